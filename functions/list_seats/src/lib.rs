//! `GET /concerts/{concertId}/dates/{date}/seats`: every seat of the date with its state.
//! Round trips: the guard's Redis script and one DynamoDB Query.

use lambda_http::http::StatusCode;
use lambda_http::Request;
use shared::domain::{ConcertDate, ConcertId};
use shared::http::{self, views::SeatsView, HttpResponse, Need};
use shared::{flows, AppState};

pub async fn handler(state: &AppState, req: Request) -> Result<HttpResponse, lambda_http::Error> {
    http::respond(async {
        let buyer = http::buyer(&req)?;
        let concert = http::path(&req, "concertId", ConcertId::parse)?;
        let date = http::path(&req, "date", ConcertDate::parse)?;
        let caller = http::guard(state, &req, &buyer, Need::Active).await?;
        caller.must_be_concert(&concert)?;
        let seats = flows::seats::seat_map(state, &concert, &date).await?;
        Ok(http::json(
            StatusCode::OK,
            &SeatsView::new(concert, date, &seats),
        ))
    })
    .await
}
