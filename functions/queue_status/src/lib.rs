//! `GET /queue/status`: the `Queue-Token`'s place in line, or its admission; the signed-in
//! buyer's own token only (FORBIDDEN otherwise).
//! Round trips: 1 Redis script, routed by the concert in the token; none for a token whose
//! signature fails (TOKEN_INVALID), and never a DynamoDB read (a signed token the line does not
//! hold is TOKEN_EXPIRED).

use lambda_http::http::StatusCode;
use lambda_http::Request;
use shared::http::{self, views::TokenView, HttpResponse};
use shared::{flows, ApiError, AppState};

pub async fn handler(state: &AppState, req: Request) -> Result<HttpResponse, lambda_http::Error> {
    http::respond(async {
        let buyer = http::buyer(&req)?;
        let token = http::queue_token(&req)?;
        let status = flows::queue::poll(state, &token).await?;
        if status.user_id != buyer {
            return Err(ApiError::Forbidden(
                "the queue token belongs to another user".into(),
            ));
        }
        Ok(http::json(StatusCode::OK, &TokenView::from(&status)))
    })
    .await
}
