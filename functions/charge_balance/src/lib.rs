//! `POST /users/{userId}/balance/charges`: adds 1 to 10,000,000 won to the caller's balance,
//! once per `Idempotency-Key`. Round trips: 1 Redis script (the token guard), then 2 DynamoDB
//! calls: a BatchGetItem and a TransactWriteItems (see `shared::flows::balance`); a replay
//! needs only the BatchGetItem.

use lambda_http::http::StatusCode;
use lambda_http::Request;
use shared::domain::UserId;
use shared::flows::balance::{self, ChargeRequest};
use shared::http::{self, views::BalanceView, HttpResponse, Need};
use shared::AppState;

pub async fn handler(state: &AppState, req: Request) -> Result<HttpResponse, lambda_http::Error> {
    http::respond(async {
        // Parsed before the guard: a refused request touches no store.
        let buyer = http::buyer(&req)?;
        let user = http::path(&req, "userId", UserId::parse)?;
        http::must_be_buyer(&buyer, &user)?;
        let key = http::idempotency_key(&req)?;
        let body: ChargeRequest = http::body(&req)?;
        http::guard(state, &req, &buyer, Need::Live).await?;
        let charged = balance::charge(state, &user, &body, key.as_ref()).await?;
        Ok(http::json(StatusCode::OK, &BalanceView::from(&charged)))
    })
    .await
}
