//! `GET /concerts/{concertId}/dates`: dates from today on with a free seat, and how many.
//! Round trips: the guard's Redis script and one cache script; on a miss, one DynamoDB Query
//! for the dates plus one per date (concurrent) and one script to store.

use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde::Serialize;
use shared::domain::ConcertId;
use shared::flows::seats::DateAvailability;
use shared::http::{self, HttpResponse, Need};
use shared::{flows, AppState};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DatesView {
    concert_id: ConcertId,
    dates: Vec<DateAvailability>,
}

pub async fn handler(state: &AppState, req: Request) -> Result<HttpResponse, lambda_http::Error> {
    http::respond(async {
        let buyer = http::buyer(&req)?;
        let concert = http::path(&req, "concertId", ConcertId::parse)?;
        let caller = http::guard(state, &req, &buyer, Need::Active).await?;
        caller.must_be_concert(&concert)?;
        let dates = flows::seats::available_dates(state, &concert).await?;
        Ok(http::json(
            StatusCode::OK,
            &DatesView {
                concert_id: concert,
                dates,
            },
        ))
    })
    .await
}
