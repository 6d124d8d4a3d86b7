//! `POST /reservations`: holds one seat (`seatNo`) or several of one date (`seatNos`) for
//! HOLD_TTL_SECONDS, all or none, within the buyer's MAX_SEATS_PER_USER; once per
//! `Idempotency-Key` when one is given.
//! Round trips: the guard's Redis script, one DynamoDB TransactWriteItems whatever the number
//! of seats (the price comes from the process's catalog cache; one Query the first time a date
//! is seen), one Redis call that invalidates the dates cache, and one Redis script that keeps
//! the token active while the hold is live. A keyed hold refused for its
//! seats or the limit adds one GetItem (its key's record); a hold refused by the limit while
//! the buyer has lapsed holds not yet released releases them (one transaction each) and tries
//! again.

use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde::Deserialize;
use shared::domain::{ConcertDate, ConcertId, SeatNo, UserId};
use shared::flows::holds::HoldRequest;
use shared::http::{self, views::ReservationView, HttpResponse, Need};
use shared::settings::Settings;
use shared::{flows, ApiError, AppState};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ReserveRequest {
    user_id: UserId,
    concert_id: ConcertId,
    date: ConcertDate,
    #[serde(default)]
    seat_no: Option<SeatNo>,
    #[serde(default)]
    seat_nos: Option<Vec<SeatNo>>,
}

impl ReserveRequest {
    /// The seats asked for, ascending: `seatNo`, or `seatNos` (1 to 20 distinct seats).
    fn seats(&self) -> Result<Vec<SeatNo>, ApiError> {
        match (self.seat_no, &self.seat_nos) {
            (Some(_), Some(_)) => Err(ApiError::validation(
                "seatNos",
                "give seatNo or seatNos, not both",
            )),
            (None, None) => Err(ApiError::validation("seatNo", "is required (or seatNos)")),
            (Some(seat), None) => Ok(vec![seat]),
            (None, Some(seats)) => {
                let bound = Settings::MAX_SEATS_BOUND as usize;
                if seats.is_empty() || seats.len() > bound {
                    return Err(ApiError::validation(
                        "seatNos",
                        format!("must hold 1 to {bound} seats"),
                    ));
                }
                let mut sorted = seats.clone();
                sorted.sort();
                sorted.dedup();
                if sorted.len() != seats.len() {
                    return Err(ApiError::validation("seatNos", "must not repeat a seat"));
                }
                Ok(sorted)
            }
        }
    }
}

pub async fn handler(state: &AppState, req: Request) -> Result<HttpResponse, lambda_http::Error> {
    http::respond(async {
        let buyer = http::buyer(&req)?;
        let key = http::idempotency_key(&req)?;
        let body: ReserveRequest = http::body(&req)?;
        let seats = body.seats()?;
        http::must_be_buyer(&buyer, &body.user_id)?;
        let caller = http::guard(state, &req, &buyer, Need::Active).await?;
        caller.must_be_concert(&body.concert_id)?;
        let reservation = flows::holds::hold_for(
            state,
            caller.token(),
            HoldRequest {
                user: body.user_id,
                concert: body.concert_id,
                date: body.date,
                seats,
            },
            key.as_ref(),
        )
        .await?;
        Ok(http::json(
            StatusCode::CREATED,
            &ReservationView::from(&reservation),
        ))
    })
    .await
}
