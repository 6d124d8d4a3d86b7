#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run_http(issue_token::handler).await
}
