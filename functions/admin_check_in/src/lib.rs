//! `POST /admin/checkins` body `{"code"}`: the door. Lets the ticket's seat in once: 200 the
//! first time, ALREADY_CHECKED_IN after, TICKET_REFUNDED for a refunded seat, TICKET_INVALID
//! for a code whose shape or signature is wrong, NOT_FOUND for a seat not sold here.
//! Operators only. Round trips: none for an invalid code (checked in the process); otherwise
//! 1 DynamoDB UpdateItem (the seat's marker, conditioned), plus a GetItem of the date's
//! catalog on the process's first look at that date, and a GetItem of the reservation when
//! the seat is no longer sold to it (to tell refunded from unknown).

use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde::Deserialize;
use shared::http::{self, views::CheckInView, HttpResponse};
use shared::{flows, AppState};

/// The scanned code, as it was read: its shape is the door's to judge (TICKET_INVALID).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckInRequest {
    code: String,
}

pub async fn handler(state: &AppState, req: Request) -> Result<HttpResponse, lambda_http::Error> {
    http::respond(async {
        http::operator(state, &req)?;
        let request: CheckInRequest = http::body(&req)?;
        let done = flows::tickets::check_in(state, &request.code).await?;
        Ok(http::json(StatusCode::OK, &CheckInView::from(&done)))
    })
    .await
}
