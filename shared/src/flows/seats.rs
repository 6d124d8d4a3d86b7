//! Flow 2, dates and seats, and the catalog a hold prices from.
//!
//! A date's seat map is its sections (the date item) and its hold markers. It is served from
//! the Redis read cache (one script); a miss costs a GetItem and a Query of the markers, run
//! together, then one script to store it. Every hold, payment, release and catalog change of
//! the date invalidates it. The dates listing is cached the same way, and a miss recomputes
//! it from the seat maps, so after a hold only that hold's date is read again.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::domain::catalog::{Name, Sections};
use crate::domain::seats::SeatState;
use crate::domain::{ConcertDate, ConcertId, SeatNo, Won};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::items::{DateItem, HoldItem, HoldStatus};
use crate::store::scripts::{Cached, ReadCache, View};

/// How a reader who did not lead a seat map's rebuild waits for it: up to 8 x 25 ms.
const FOLLOW_POLLS: u32 = 8;
const FOLLOW_WAIT: Duration = Duration::from_millis(25);

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
    pub section: Name,
    pub price: Won,
    pub status: SeatState,
}

/// A date's catalog as a process keeps it. While `locked` is false an operator may still
/// change it, so a hold priced from it carries `version` as its transaction's condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedCatalog {
    pub version: u64,
    pub locked: bool,
    pub sections: Sections,
}

/// A held or sold seat, as the seat map keeps it: `[seatNo, sold, expiresAt ms]`. The state
/// is worked out at read time, so a cached map shows a lapsed hold as AVAILABLE.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark(pub SeatNo, pub bool, pub i64);

/// A date's seat map as cached: its catalog and its marks, by seat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatMap {
    pub version: u64,
    pub locked: bool,
    pub sections: Sections,
    pub marks: Vec<Mark>,
}

/// A date's seats by state, now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub seats: u32,
    pub available: u32,
    pub held: u32,
    pub sold: u32,
    /// When the first live hold ends (ms): a count is true until then at the latest.
    pub first_expiry: Option<i64>,
}

impl SeatMap {
    fn new(date: &DateItem, holds: &[HoldItem]) -> Self {
        Self {
            version: date.catalog_version,
            locked: date.locked,
            sections: date.sections.clone(),
            marks: holds
                .iter()
                .filter(|h| h.seat_no.get() <= date.sections.seat_count())
                .map(|h| {
                    Mark(
                        h.seat_no,
                        h.status == HoldStatus::Sold,
                        h.expires_at.unwrap_or(0),
                    )
                })
                .collect(),
        }
    }

    fn state(mark: &Mark, now_ms: i64) -> SeatState {
        SeatState::of(mark.1, Some(mark.2), now_ms)
    }

    /// Every seat, 1..=N.
    pub fn seats(&self, now_ms: i64) -> Vec<Seat> {
        let mut marks = self.marks.iter().peekable();
        let mut out = Vec::with_capacity(usize::from(self.sections.seat_count()));
        for section in self.sections.iter() {
            for n in section.from_seat.get()..=section.to_seat.get() {
                let seat_no = SeatNo::new(i64::from(n)).expect("a section's seats are valid");
                while marks.next_if(|m| m.0 < seat_no).is_some() {}
                let status = match marks.next_if(|m| m.0 == seat_no) {
                    Some(mark) => Self::state(mark, now_ms),
                    None => SeatState::Available,
                };
                out.push(Seat {
                    seat_no,
                    section: section.name.clone(),
                    price: section.price,
                    status,
                });
            }
        }
        out
    }

    pub fn counts(&self, now_ms: i64) -> Counts {
        let seats = u32::from(self.sections.seat_count());
        let mut counts = Counts {
            seats,
            ..Counts::default()
        };
        for mark in &self.marks {
            match Self::state(mark, now_ms) {
                SeatState::Held => {
                    counts.held += 1;
                    counts.first_expiry =
                        Some(counts.first_expiry.map_or(mark.2, |e| e.min(mark.2)));
                }
                SeatState::Sold => counts.sold += 1,
                SeatState::Available => {}
            }
        }
        counts.available = seats - counts.held - counts.sold;
        counts
    }
}

/// A date's seat map: from the read cache, or read (and cached). None for an unknown date.
pub async fn snapshot(
    state: &AppState,
    concert: &ConcertId,
    date: &ConcertDate,
) -> Result<Option<SeatMap>, ApiError> {
    let cache = ReadCache::new(&state.redis);
    let view = View::SeatMap(date);
    let mut cached = cache.get(concert, view).await?;
    let parse = |c: &Cached| {
        c.body
            .as_deref()
            .and_then(|b| serde_json::from_str::<SeatMap>(b).ok())
    };
    if let Some(hit) = parse(&cached) {
        return Ok(Some(hit));
    }
    // After a change, a thousand readers a second would otherwise each read the date again:
    // one leads the rebuild, the others wait a moment for its result (and read for
    // themselves if it does not come).
    let leads = cache.lead(concert, view).await?;
    if !leads {
        for _ in 0..FOLLOW_POLLS {
            tokio::time::sleep(FOLLOW_WAIT).await;
            cached = cache.get(concert, view).await?;
            if let Some(hit) = parse(&cached) {
                return Ok(Some(hit));
            }
        }
    }
    let (item, holds) = futures::try_join!(
        state.db.date(concert, date),
        state.db.date_holds(concert, date)
    )?;
    let Some(item) = item else {
        return Ok(None);
    };
    remember(state, concert, &item);
    let map = SeatMap::new(&item, &holds);
    if !leads {
        return Ok(Some(map));
    }
    let body = serde_json::to_string(&map)?;
    // A failed cache write costs the next reader a read, nothing more.
    if let Err(e) = cache
        .put(
            concert,
            view,
            &cached.version,
            &body,
            state.settings.dates_cache_ttl,
        )
        .await
    {
        tracing::warn!(error = %e, "seat map cache write failed");
    }
    Ok(Some(map))
}

/// The seat map, by seatNo. NOT_FOUND for an unknown concert or date.
pub async fn seat_map(
    state: &AppState,
    concert: &ConcertId,
    date: &ConcertDate,
) -> Result<Vec<Seat>, ApiError> {
    let map = snapshot(state, concert, date).await?.ok_or_else(|| {
        ApiError::NotFound(format!("concert {concert} has no performance on {date}"))
    })?;
    Ok(map.seats(Utc::now().timestamp_millis()))
}

/// Keeps a date's catalog as read, for the life of the process.
pub(crate) fn remember(
    state: &AppState,
    concert: &ConcertId,
    item: &DateItem,
) -> Arc<CachedCatalog> {
    let entry = Arc::new(CachedCatalog {
        version: item.catalog_version,
        locked: item.locked,
        sections: item.sections.clone(),
    });
    if let Ok(mut cache) = state.catalogs.write() {
        cache.insert((concert.clone(), item.date), entry.clone());
    }
    entry
}

/// A date's catalog: from the process's cache (unless `fresh`), or one GetItem. None for an
/// unknown date.
pub async fn catalog(
    state: &AppState,
    concert: &ConcertId,
    date: &ConcertDate,
    fresh: bool,
) -> Result<Option<Arc<CachedCatalog>>, ApiError> {
    let key = (concert.clone(), *date);
    if !fresh {
        if let Some(hit) = state
            .catalogs
            .read()
            .ok()
            .and_then(|c| c.get(&key).cloned())
        {
            return Ok(Some(hit));
        }
    }
    let item = state.db.date(concert, date).await?;
    Ok(item.map(|item| remember(state, concert, &item)))
}

/// A date's catalog from the process's cache only, and only once locked (a date with a seat
/// sold is): those sections never change, so no read can be fresher. No I/O.
pub fn locked_catalog(
    state: &AppState,
    concert: &ConcertId,
    date: &ConcertDate,
) -> Option<Arc<CachedCatalog>> {
    state
        .catalogs
        .read()
        .ok()
        .and_then(|c| c.get(&(concert.clone(), *date)).cloned())
        .filter(|c| c.locked)
}

/// After a hold that locked the date: holds of this process need not lock it again.
pub fn locked(state: &AppState, concert: &ConcertId, date: &ConcertDate, version: u64) {
    if let Ok(mut cache) = state.catalogs.write() {
        if let Some(entry) = cache.get_mut(&(concert.clone(), *date)) {
            if entry.version == version && !entry.locked {
                *entry = Arc::new(CachedCatalog {
                    locked: true,
                    ..(**entry).clone()
                });
            }
        }
    }
}

/// Dates from today (UTC) on with at least one seat free, ascending.
pub async fn available_dates(
    state: &AppState,
    concert: &ConcertId,
) -> Result<Vec<DateAvailability>, ApiError> {
    let cache = ReadCache::new(&state.redis);
    let cached = cache.get(concert, View::Dates).await?;
    let all = match cached
        .body
        .as_deref()
        .map(serde_json::from_str::<Vec<DateAvailability>>)
    {
        Some(Ok(hit)) => hit,
        _ => {
            let (fresh, ttl) = compute_dates(state, concert).await?;
            let body = serde_json::to_string(&fresh)?;
            if let Err(e) = cache
                .put(concert, View::Dates, &cached.version, &body, ttl)
                .await
            {
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
    let Some(stored) = state.db.concert(concert).await? else {
        return Err(ApiError::NotFound(format!(
            "concert {concert} does not exist"
        )));
    };
    let today = ConcertDate::today_utc();
    let upcoming: Vec<ConcertDate> = stored
        .dates
        .into_iter()
        .map(|d| d.date)
        .filter(|d| *d >= today)
        .collect();
    let maps =
        futures::future::try_join_all(upcoming.iter().map(|date| snapshot(state, concert, date)))
            .await?;
    let now = Utc::now().timestamp_millis();
    let mut ttl_ms = state.settings.dates_cache_ttl.as_millis() as i64;
    let mut out = Vec::with_capacity(upcoming.len());
    for (date, map) in upcoming.into_iter().zip(maps) {
        // A date removed between the two reads is simply not listed.
        let Some(map) = map else { continue };
        let counts = map.counts(now);
        if let Some(first) = counts.first_expiry {
            ttl_ms = ttl_ms.min(first - now);
        }
        out.push(DateAvailability {
            date,
            available_seats: counts.available,
        });
    }
    Ok((out, Duration::from_millis(ttl_ms.max(1) as u64)))
}

/// After a hold, payment, release or catalog change of `dates`. A failure is logged: the
/// entries expire on their own.
pub async fn invalidate(state: &AppState, concert: &ConcertId, dates: &[ConcertDate]) {
    if let Err(e) = ReadCache::new(&state.redis)
        .invalidate(concert, dates)
        .await
    {
        tracing::warn!(error = %e, %concert, "read cache invalidation failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalog::Section;

    fn map(marks: Vec<Mark>) -> SeatMap {
        let seat = |n| SeatNo::new(n).unwrap();
        SeatMap {
            version: 1,
            locked: true,
            sections: Sections::parse(vec![
                Section {
                    name: Name::parse("Floor").unwrap(),
                    from_seat: seat(1),
                    to_seat: seat(3),
                    price: Won::new(100),
                },
                Section {
                    name: Name::parse("Balcony").unwrap(),
                    from_seat: seat(4),
                    to_seat: seat(5),
                    price: Won::new(50),
                },
            ])
            .unwrap(),
            marks,
        }
    }

    #[test]
    fn a_seat_map_shows_every_seat_with_its_section_and_state() {
        let now = 1_000;
        let m = map(vec![
            Mark(SeatNo::new(2).unwrap(), false, now + 10),
            Mark(SeatNo::new(3).unwrap(), false, now - 1),
            Mark(SeatNo::new(5).unwrap(), true, 0),
        ]);
        let seats = m.seats(now);
        let states: Vec<_> = seats.iter().map(|s| s.status).collect();
        use SeatState::*;
        assert_eq!(states, vec![Available, Held, Available, Available, Sold]);
        assert_eq!(seats[3].section.as_str(), "Balcony");
        assert_eq!(seats[3].price, Won::new(50));
        let counts = m.counts(now);
        assert_eq!((counts.available, counts.held, counts.sold), (3, 1, 1));
        assert_eq!(counts.first_expiry, Some(now + 10));
    }
}
