//! `POST /payments`: pays a HELD reservation of the token's concert from the balance, all or
//! nothing, once per reservation (and once per `Idempotency-Key`); then spends the token.
//! Round trips: the guard's Redis script; 2 DynamoDB calls, a BatchGetItem and a
//! TransactWriteItems (see `shared::flows::payments`); 2 Redis calls after the commit.

use lambda_http::http::StatusCode;
use lambda_http::Request;
use shared::flows::payments::{self, PayRequest};
use shared::http::{self, views::PaymentView, HttpResponse, Need};
use shared::AppState;

pub async fn handler(state: &AppState, req: Request) -> Result<HttpResponse, lambda_http::Error> {
    http::respond(async {
        let buyer = http::buyer(&req)?;
        let key = http::idempotency_key(&req)?;
        let body: PayRequest = http::body(&req)?;
        http::must_be_buyer(&buyer, &body.user_id)?;
        let caller = http::guard(state, &req, &buyer, Need::Active).await?;
        let paid = payments::pay(state, caller.payer(), &body, key.as_ref()).await?;
        Ok(http::json(StatusCode::CREATED, &PaymentView::from(&paid)))
    })
    .await
}
