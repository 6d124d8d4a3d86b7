//! `GET /users/{userId}/balance`: the caller's balance, 0 if they never charged.
//! Round trips: 1 Redis script (the token guard), 1 DynamoDB GetItem.

use lambda_http::http::StatusCode;
use lambda_http::Request;
use shared::domain::UserId;
use shared::flows::balance;
use shared::http::{self, views::BalanceView, HttpResponse, Need};
use shared::AppState;

pub async fn handler(state: &AppState, req: Request) -> Result<HttpResponse, lambda_http::Error> {
    http::respond(async {
        let buyer = http::buyer(&req)?;
        let user = http::path(&req, "userId", UserId::parse)?;
        http::must_be_buyer(&buyer, &user)?;
        http::guard(state, &req, &buyer, Need::Live).await?;
        let held = balance::get(state, &user).await?;
        Ok(http::json(StatusCode::OK, &BalanceView::new(&user, held)))
    })
    .await
}
