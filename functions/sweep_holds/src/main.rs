#![recursion_limit = "256"]

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::lambda::run_events(env!("CARGO_PKG_NAME"), sweep_holds::handler).await
}
