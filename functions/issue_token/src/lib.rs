//! `POST /queue/tokens`: a place in the concert's waiting room, or the place the user has.
//! Round trips: 1 Redis script, new token or asked again; 1 DynamoDB read (the concert) only
//! the first time a function instance sees the concert. A new token's audit is a log line. The
//! token is signed (`<concertId>.<id>.<mac>`), opaque to clients.

use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde::Deserialize;
use shared::domain::{ConcertId, UserId};
use shared::http::{self, views::TokenView, HttpResponse};
use shared::store::scripts::Issued;
use shared::{flows, AppState};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct IssueTokenRequest {
    user_id: UserId,
    concert_id: ConcertId,
}

pub async fn handler(state: &AppState, req: Request) -> Result<HttpResponse, lambda_http::Error> {
    http::respond(async {
        let body: IssueTokenRequest = http::body(&req)?;
        Ok(
            match flows::queue::issue(state, &body.user_id, &body.concert_id).await? {
                Issued::New(s) => http::json(StatusCode::CREATED, &TokenView::from(&s)),
                Issued::Existing(s) => http::json(StatusCode::OK, &TokenView::from(&s)),
            },
        )
    })
    .await
}
