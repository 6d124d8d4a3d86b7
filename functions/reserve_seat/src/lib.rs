//! `POST /reservations`: holds a seat for HOLD_TTL_SECONDS.
//! Round trips: the guard's Redis script, one DynamoDB TransactWriteItems (the price comes
//! from the process's catalog cache; one Query the first time a date is seen), one Redis
//! call that invalidates the dates cache, and one Redis script that keeps the token active
//! while the hold is live.

use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde::Deserialize;
use shared::domain::{ConcertDate, ConcertId, SeatNo, UserId};
use shared::flows::holds::HoldRequest;
use shared::http::{self, views::ReservationView, HttpResponse, Need};
use shared::{flows, AppState};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ReserveRequest {
    user_id: UserId,
    concert_id: ConcertId,
    date: ConcertDate,
    seat_no: SeatNo,
}

pub async fn handler(state: &AppState, req: Request) -> Result<HttpResponse, lambda_http::Error> {
    http::respond(async {
        let body: ReserveRequest = http::body(&req)?;
        let caller = http::guard(state, &req, Need::Active).await?;
        caller.must_be_user(&body.user_id)?;
        caller.must_be_concert(&body.concert_id)?;
        let reservation = flows::holds::hold_for(
            state,
            caller.token(),
            HoldRequest {
                user: body.user_id,
                concert: body.concert_id,
                date: body.date,
                seat: body.seat_no,
            },
        )
        .await?;
        Ok(http::json(
            StatusCode::CREATED,
            &ReservationView::from(&reservation),
        ))
    })
    .await
}
