//! `GET /reservations/{reservationId}/tickets`: one ticket per seat of the signed-in buyer's
//! CONFIRMED reservation, each with its signed code and when the door let it in. No queue
//! token. Round trips: 1 Redis script (the buyer's fair-use bucket), then DynamoDB 2: a
//! GetItem (the reservation) and a BatchGetItem (its seats' markers, and the date's catalog on
//! the process's first look at that date).

use lambda_http::http::StatusCode;
use lambda_http::Request;
use shared::domain::ReservationId;
use shared::http::{self, views::TicketsView, HttpResponse};
use shared::{flows, AppState};

pub async fn handler(state: &AppState, req: Request) -> Result<HttpResponse, lambda_http::Error> {
    http::respond(async {
        let id = http::path(&req, "reservationId", ReservationId::parse)?;
        let buyer = http::buyer(&req)?;
        // FAIR USE (issue 26): `flows::fair_use::take(state, &buyer).await?` goes here, the
        // route's one Redis round trip, once it lands on main.
        let tickets = flows::tickets::tickets(state, &buyer, &id).await?;
        Ok(http::json(StatusCode::OK, &TicketsView::new(&id, &tickets)))
    })
    .await
}
