//! `PATCH /admin/concerts/{concertId}/queue`: sets the line's `activeLimit`, `paused` or both,
//! and answers the line's figures. Operators only.
//! Round trips: one DynamoDB UpdateItem (on the concert), two Redis scripts (the line's
//! mirror of the controls, then the figures).

use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde::{Deserialize, Deserializer};
use shared::domain::ConcertId;
use shared::http::{self, views::QueueView, HttpResponse};
use shared::{flows, ApiError, AppState};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PatchQueueBody {
    #[serde(default, deserialize_with = "limit")]
    active_limit: Option<u32>,
    #[serde(default, deserialize_with = "flag")]
    paused: Option<bool>,
}

/// 1 to 100,000; null is refused (there is nothing to clear it to but the default, which is
/// what a concert without a limit of its own already has).
fn limit<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let n = i64::deserialize(d)?;
    if (1..=100_000).contains(&n) {
        Ok(Some(n as u32))
    } else {
        Err(serde::de::Error::custom(
            "must be an integer from 1 to 100000",
        ))
    }
}

fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    bool::deserialize(d).map(Some)
}

pub async fn handler(state: &AppState, req: Request) -> Result<HttpResponse, lambda_http::Error> {
    http::respond(async {
        http::operator(state, &req)?;
        let concert = http::path(&req, "concertId", ConcertId::parse)?;
        let body: PatchQueueBody = http::body(&req)?;
        if body.active_limit.is_none() && body.paused.is_none() {
            return Err(ApiError::validation(
                "body",
                "must set activeLimit, paused or both",
            ));
        }
        let queue =
            flows::catalog::set_controls(state, &concert, body.active_limit, body.paused).await?;
        Ok(http::json(StatusCode::OK, &QueueView::from(&queue)))
    })
    .await
}
