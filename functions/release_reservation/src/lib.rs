//! `DELETE /reservations/{reservationId}`: the holder releases a live hold; its seats are
//! AVAILABLE at once. Asked again, the same 200. A paid reservation is RESERVATION_NOT_HELD, a
//! lapsed one RESERVATION_EXPIRED, another user's FORBIDDEN.
//! Round trips: the guard's Redis script; 2 DynamoDB calls, a GetItem (the reservation: its
//! seats and owner) and one TransactWriteItems (the markers, the reservation, the buyer's seat
//! count); one Redis call that invalidates the dates cache, and one script that restarts the
//! token's idle clock (the hold no longer keeps it active).

use lambda_http::http::StatusCode;
use lambda_http::Request;
use shared::domain::ReservationId;
use shared::http::{self, views::ReservationView, HttpResponse, Need};
use shared::{flows, AppState};

pub async fn handler(state: &AppState, req: Request) -> Result<HttpResponse, lambda_http::Error> {
    http::respond(async {
        let buyer = http::buyer(&req)?;
        let id = http::path(&req, "reservationId", ReservationId::parse)?;
        let caller = http::guard(state, &req, &buyer, Need::Active).await?;
        let released = flows::holds::release_for(state, caller.token(), caller.user(), &id).await?;
        Ok(http::json(
            StatusCode::OK,
            &ReservationView::from(&released),
        ))
    })
    .await
}
