//! `GET /reservations/{reservationId}`: the caller's reservation, HELD, CONFIRMED or EXPIRED.
//! Round trips: the guard's Redis script and one DynamoDB GetItem.

use lambda_http::http::StatusCode;
use lambda_http::Request;
use shared::domain::ReservationId;
use shared::http::{self, views::ReservationView, HttpResponse, Need};
use shared::{flows, AppState};

pub async fn handler(state: &AppState, req: Request) -> Result<HttpResponse, lambda_http::Error> {
    http::respond(async {
        let buyer = http::buyer(&req)?;
        let id = http::path(&req, "reservationId", ReservationId::parse)?;
        let caller = http::guard(state, &req, &buyer, Need::Live).await?;
        let reservation = flows::holds::reservation(state, &id).await?;
        caller.must_be_user(&reservation.user_id)?;
        Ok(http::json(
            StatusCode::OK,
            &ReservationView::from(&reservation),
        ))
    })
    .await
}
