//! `POST /queue/tokens`: a place in the concert's waiting room for the signed-in buyer, or the
//! place they have (`userId` may be left out; given, it must be the buyer's).
//! Round trips: 1 DynamoDB read (the concert), 1 Redis script, and for a new token only
//! 1 DynamoDB write (its audit record, whose failure is logged, not answered). The token is
//! signed (`<concertId>.<id>.<mac>`), opaque to clients.

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
    /// The signed-in buyer's own ID, if given at all: the buyer is who signed in. Left out,
    /// not `null`: a null is a field of the wrong type, as anywhere else.
    #[serde(default, deserialize_with = "present")]
    user_id: Option<UserId>,
    concert_id: ConcertId,
}

/// A field that may be left out but, when given, must be a value.
fn present<'de, D, T>(de: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(de).map(Some)
}

pub async fn handler(state: &AppState, req: Request) -> Result<HttpResponse, lambda_http::Error> {
    http::respond(async {
        let buyer = http::buyer(&req)?;
        let body: IssueTokenRequest = http::body(&req)?;
        if let Some(named) = &body.user_id {
            http::must_be_buyer(&buyer, named)?;
        }
        Ok(
            match flows::queue::issue(state, &buyer, &body.concert_id).await? {
                Issued::New(s) => http::json(StatusCode::CREATED, &TokenView::from(&s)),
                Issued::Existing(s) => http::json(StatusCode::OK, &TokenView::from(&s)),
            },
        )
    })
    .await
}
