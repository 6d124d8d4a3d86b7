//! `GET /users/{userId}/reservations`: the signed-in buyer's reservations of every concert,
//! newest first, each as `GET /reservations/{id}` shows it; `limit` (1 to 100, default 20) a
//! page, and `cursor` (the last page's `nextCursor`) for the next. No queue token.
//! Round trips: 1 Redis script (the buyer's fair-use bucket), 1 DynamoDB Query (the `ByUser`
//! index). A bad `limit` or `cursor` is refused before either.

use lambda_http::http::StatusCode;
use lambda_http::Request;
use shared::domain::paging::PageLimit;
use shared::domain::UserId;
use shared::http::{self, views::ReservationListView, HttpResponse};
use shared::{flows, ApiError, AppState};

pub async fn handler(state: &AppState, req: Request) -> Result<HttpResponse, lambda_http::Error> {
    http::respond(async {
        let user = http::path(&req, "userId", UserId::parse)?;
        let mut query = http::query(&req, &["limit", "cursor"])?;
        let limit = match query.remove("limit") {
            Some(raw) => PageLimit::parse(&raw).map_err(|e| ApiError::validation("limit", e.0))?,
            None => PageLimit::DEFAULT,
        };
        // Sealed for the user of the path: another user's cursor, or an altered one, is
        // refused here and never reaches the store.
        let after = query
            .remove("cursor")
            .map(|raw| state.settings.page_key.open(&user, &raw))
            .transpose()
            .map_err(|e| ApiError::validation("cursor", e.0))?;
        let buyer = http::buyer(&req)?;
        http::must_be_buyer(&buyer, &user)?;
        // FAIR USE (issue 26): `flows::fair_use::take(state, &buyer).await?` goes here, the
        // route's one Redis round trip, once it lands on main.
        let page = flows::listing::list(state, &user, limit, after).await?;
        let next = page.next.map(|p| state.settings.page_key.seal(&user, p));
        Ok(http::json(
            StatusCode::OK,
            &ReservationListView::new(&user, &page, next),
        ))
    })
    .await
}
