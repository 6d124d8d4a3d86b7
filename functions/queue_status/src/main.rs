#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run_http(queue_status::handler).await
}
