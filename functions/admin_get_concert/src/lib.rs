//! `GET /admin/concerts/{concertId}`: the concert as stored, its line's figures, and each
//! date's available, held and sold seats. Operators only.
//! Round trips: one DynamoDB Query (the concert), then together one Redis script (the line)
//! and each date's seat map (one Redis script, and on a miss a GetItem and a Query).

use lambda_http::http::StatusCode;
use lambda_http::Request;
use shared::domain::ConcertId;
use shared::http::{self, views::AdminConcertView, HttpResponse};
use shared::{flows, AppState};

pub async fn handler(state: &AppState, req: Request) -> Result<HttpResponse, lambda_http::Error> {
    http::respond(async {
        http::operator(state, &req)?;
        let concert = http::path(&req, "concertId", ConcertId::parse)?;
        let report = flows::catalog::report(state, &concert).await?;
        Ok(http::json(
            StatusCode::OK,
            &AdminConcertView::report(&report),
        ))
    })
    .await
}
