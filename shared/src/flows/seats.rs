//! Flow 2, dates and seats. A seat map is one DynamoDB Query. The dates list is served from
//! the Redis cache (one script); a miss costs one Query for the dates plus one per date, run
//! together, then one script to store the result.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::domain::seats::SeatState;
use crate::domain::{ConcertDate, ConcertId, SeatNo, Won};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::items::HoldStatus;
use crate::store::scripts::DatesCache;
use crate::store::seats::SeatRow;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DateAvailability {
    pub date: ConcertDate,
    pub available_seats: u32,
}

/// A seat of the map as it stands now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seat {
    pub seat_no: SeatNo,
    pub price: Won,
    pub status: SeatState,
}

fn state_of(row: &SeatRow, now_ms: i64) -> SeatState {
    match &row.hold {
        Some(h) => SeatState::of(h.status == HoldStatus::Sold, h.expires_at, now_ms),
        None => SeatState::Available,
    }
}

/// The seat map, by seatNo. NOT_FOUND for an unknown concert or date.
pub async fn seat_map(
    state: &AppState,
    concert: &ConcertId,
    date: &ConcertDate,
) -> Result<Vec<Seat>, ApiError> {
    let rows = state.db.seat_map(concert, date).await?;
    if rows.is_empty() {
        return Err(ApiError::NotFound(format!(
            "concert {concert} has no performance on {date}"
        )));
    }
    remember_prices(state, concert, date, &rows);
    let now = Utc::now().timestamp_millis();
    Ok(rows
        .iter()
        .map(|row| Seat {
            seat_no: row.seat.seat_no,
            price: row.seat.price,
            status: state_of(row, now),
        })
        .collect())
}

fn remember_prices(state: &AppState, concert: &ConcertId, date: &ConcertDate, rows: &[SeatRow]) {
    // Seats are numbered 1..=N, so the price of seat n is at n-1.
    let prices: Vec<Won> = rows.iter().map(|r| r.seat.price).collect();
    if let Ok(mut cache) = state.prices.write() {
        cache.insert((concert.clone(), *date), Arc::new(prices));
    }
}

/// Seat prices of a date: from the process's cache, or one Query. None for an unknown date.
pub async fn prices(
    state: &AppState,
    concert: &ConcertId,
    date: &ConcertDate,
) -> Result<Option<Arc<Vec<Won>>>, ApiError> {
    let key = (concert.clone(), *date);
    if let Some(hit) = state.prices.read().ok().and_then(|c| c.get(&key).cloned()) {
        return Ok(Some(hit));
    }
    let rows = state.db.seat_map(concert, date).await?;
    if rows.is_empty() {
        return Ok(None);
    }
    remember_prices(state, concert, date, &rows);
    Ok(state.prices.read().ok().and_then(|c| c.get(&key).cloned()))
}

/// Dates from today (UTC) on with at least one seat free, ascending.
pub async fn available_dates(
    state: &AppState,
    concert: &ConcertId,
) -> Result<Vec<DateAvailability>, ApiError> {
    let cache = DatesCache::new(&state.redis);
    let cached = cache.get(concert).await?;
    let all = match cached
        .body
        .as_deref()
        .map(serde_json::from_str::<Vec<DateAvailability>>)
    {
        Some(Ok(hit)) => hit,
        _ => {
            let (fresh, ttl) = compute_dates(state, concert).await?;
            let body = serde_json::to_string(&fresh).expect("dates serialize");
            // A failed cache write costs the next reader a recomputation, nothing more.
            if let Err(e) = cache.put(concert, &cached.version, &body, ttl).await {
                tracing::warn!(error = %e, "dates cache write failed");
            }
            fresh
        }
    };
    let today = ConcertDate::today_utc();
    Ok(all
        .into_iter()
        .filter(|d| d.date >= today && d.available_seats > 0)
        .collect())
}

/// Counts from the seat maps, and how long the result stays true: no longer than the cache
/// setting, nor past the first live hold's expiry (that seat becomes free then).
async fn compute_dates(
    state: &AppState,
    concert: &ConcertId,
) -> Result<(Vec<DateAvailability>, Duration), ApiError> {
    let Some(dates) = state.db.concert_dates(concert).await? else {
        return Err(ApiError::NotFound(format!(
            "concert {concert} does not exist"
        )));
    };
    let today = ConcertDate::today_utc();
    let upcoming: Vec<ConcertDate> = dates
        .into_iter()
        .map(|d| d.date)
        .filter(|d| *d >= today)
        .collect();
    let maps =
        futures::future::try_join_all(upcoming.iter().map(|date| state.db.seat_map(concert, date)))
            .await?;
    let now = Utc::now().timestamp_millis();
    let mut ttl_ms = state.settings.dates_cache_ttl.as_millis() as i64;
    let mut out = Vec::with_capacity(upcoming.len());
    for (date, rows) in upcoming.into_iter().zip(maps) {
        let mut free = 0;
        for row in &rows {
            match state_of(row, now) {
                SeatState::Available => free += 1,
                SeatState::Held => {
                    if let Some(expires) = row.hold.as_ref().and_then(|h| h.expires_at) {
                        ttl_ms = ttl_ms.min(expires - now);
                    }
                }
                SeatState::Sold => {}
            }
        }
        out.push(DateAvailability {
            date,
            available_seats: free,
        });
    }
    Ok((out, Duration::from_millis(ttl_ms.max(1) as u64)))
}

/// After a hold, payment or release. A failure is logged: the entry expires on its own.
pub async fn invalidate_dates(state: &AppState, concert: &ConcertId) {
    if let Err(e) = DatesCache::new(&state.redis).invalidate(concert).await {
        tracing::warn!(error = %e, %concert, "dates cache invalidation failed");
    }
}
