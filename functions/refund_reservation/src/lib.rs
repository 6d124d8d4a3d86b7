//! `POST /reservations/{reservationId}/refund`: refunds a CONFIRMED reservation of the token's
//! user until REFUND_CUTOFF_HOURS before its date: the amount back to the balance (a ledger
//! entry), its seats AVAILABLE and off the buyer's count, the reservation and its payment
//! REFUNDED, in one transaction. Asked again (with or without the same `Idempotency-Key`), the
//! same answer, credited once.
//! Round trips: the guard's Redis script; 2 DynamoDB calls, a BatchGetItem (reservation,
//! payment, balance, key's record) and one TransactWriteItems; one Redis call that invalidates
//! the dates cache. A refund asked again is the BatchGetItem alone.

use lambda_http::http::StatusCode;
use lambda_http::Request;
use shared::domain::ReservationId;
use shared::http::{self, views::RefundView, HttpResponse, Need};
use shared::{flows, AppState};

pub async fn handler(state: &AppState, req: Request) -> Result<HttpResponse, lambda_http::Error> {
    http::respond(async {
        let buyer = http::buyer(&req)?;
        let key = http::idempotency_key(&req)?;
        let id = http::path(&req, "reservationId", ReservationId::parse)?;
        let caller = http::guard(state, &req, &buyer, Need::Live).await?;
        let refunded = flows::refunds::refund(state, caller.user(), &id, key.as_ref()).await?;
        Ok(http::json(StatusCode::OK, &RefundView::from(&refunded)))
    })
    .await
}
