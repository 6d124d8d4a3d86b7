//! The operator's side: a concert's catalog (create or change it, read it with its figures)
//! and the line controls. `make seed` runs the same change.
//!
//! A catalog change is one transaction conditioned on the concert's revision as read, so
//! concurrent changes apply one after another; a date's sections change only while the date
//! has had no hold (the first hold locks it in its own transaction), so a change racing a
//! first hold either changes the date before it or is refused after it, never half.

use chrono::{DateTime, Utc};

use crate::domain::catalog::{
    check_opening, CatalogRequest, ChangeRefused, Name, Sections, MAX_DATE_WRITES,
};
use crate::domain::{ConcertDate, ConcertId, Won};
use crate::error::{ApiError, StoreError};
use crate::flows::seats::{invalidate, snapshot, Counts};
use crate::state::AppState;
use crate::store::catalog::{CatalogOutcome, CatalogWrite, DateWrite, StoredConcert};
use crate::store::dynamo::Db;
use crate::store::items::{ConcertItem, DateItem};
use crate::store::scripts::LineFigures;

/// What a PUT did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    Created(StoredConcert),
    Updated(StoredConcert),
    Unchanged(StoredConcert),
}

impl Applied {
    pub fn stored(&self) -> &StoredConcert {
        match self {
            Applied::Created(s) | Applied::Updated(s) | Applied::Unchanged(s) => s,
        }
    }
}

/// A change races another change (or a first hold) at most this many times before it is
/// answered 503; each race means someone else's write went through, so a dozen operators
/// saving at once all get through. Between attempts a jittered wait, growing to 200 ms,
/// spreads the racers out instead of sending them back together.
const ATTEMPTS: u32 = 16;
const RACE_WAIT_CAP_MS: u64 = 200;

/// Creates or changes a concert's catalog. The same request again changes nothing.
pub async fn put(
    state: &AppState,
    concert: &ConcertId,
    req: &CatalogRequest,
) -> Result<Applied, ApiError> {
    let (applied, changed) = apply(&state.db, concert, req).await?;
    if !changed.is_empty() {
        invalidate(state, concert, &changed).await;
    }
    // Even when unchanged: the same PUT again brings the line an opening it missed.
    mirror(state, &applied.stored().concert).await;
    Ok(applied)
}

/// Writes the concert's controls to its line's mirror, in force from the next poll. The change
/// is stored by then, so a failure is logged, not answered: the line confirms its mirror from
/// DynamoDB every 10 s (`queue_lib.lua`), and picks the change up then.
async fn mirror(state: &AppState, concert: &ConcertItem) {
    let written = crate::store::scripts::QueueScripts::new(&state.redis, &state.settings)
        .mirror_controls(&concert.concert_id, &concert.controls())
        .await;
    if let Err(e) = written {
        tracing::warn!(error = %e, concert = %concert.concert_id, "controls stored, mirror not written");
    }
}

/// The change itself, on the tables alone; returns the dates whose seat maps changed.
pub async fn apply(
    db: &Db,
    concert: &ConcertId,
    req: &CatalogRequest,
) -> Result<(Applied, Vec<ConcertDate>), ApiError> {
    for attempt in 0..ATTEMPTS {
        let stored = db.concert(concert).await?;
        let Some(plan) = plan(concert, stored.as_ref(), req, Utc::now())? else {
            let stored = stored.expect("an unchanged concert exists");
            return Ok((Applied::Unchanged(stored), Vec::new()));
        };
        match db.write_catalog(&plan.write).await? {
            CatalogOutcome::Written => {
                let after = StoredConcert {
                    concert: plan.write.concert.clone(),
                    dates: plan.after,
                };
                let applied = if stored.is_none() {
                    Applied::Created(after)
                } else {
                    Applied::Updated(after)
                };
                return Ok((applied, plan.changed));
            }
            CatalogOutcome::Raced => {
                tracing::info!(attempt, %concert, "the concert changed while it was being changed; reading it again");
                let cap_ms = (10u64 << attempt.min(5)).min(RACE_WAIT_CAP_MS);
                let wait = rand::random_range(0..=cap_ms);
                tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
            }
        }
    }
    Err(ApiError::Unavailable(StoreError::Contended(format!(
        "concert {concert} changed {ATTEMPTS} times during one change"
    ))))
}

struct Plan {
    write: CatalogWrite,
    after: Vec<DateItem>,
    changed: Vec<ConcertDate>,
}

/// The write that takes the stored concert to the requested one; None when they are the same.
fn plan(
    id: &ConcertId,
    stored: Option<&StoredConcert>,
    req: &CatalogRequest,
    now: DateTime<Utc>,
) -> Result<Option<Plan>, ApiError> {
    let old_opening = stored.and_then(|s| s.concert.opens_at);
    let opens_at = req.opens_at.unwrap_or(old_opening);
    check_opening(old_opening, opens_at, now).map_err(refusal)?;
    let revision = stored.map_or(0, |s| s.concert.revision) + 1;

    let mut dates = Vec::new();
    let mut after = Vec::new();
    let mut changed = Vec::new();
    for wanted in &req.dates {
        let old = stored.and_then(|s| s.dates.iter().find(|d| d.date == wanted.date));
        match old {
            Some(old) if old.sections == wanted.sections => after.push(old.clone()),
            Some(old) if old.locked => {
                return Err(refusal(ChangeRefused::Locked(old.date)));
            }
            old => {
                let item = DateItem::new(id, wanted.date, wanted.sections.clone(), revision);
                let write = if old.is_some() {
                    DateWrite::Change
                } else {
                    DateWrite::Add
                };
                dates.push((item.clone(), write));
                after.push(item);
                changed.push(wanted.date);
            }
        }
    }
    let mut removed = Vec::new();
    for old in stored.map_or(&[][..], |s| &s.dates[..]) {
        if req.dates.iter().any(|d| d.date == old.date) {
            continue;
        }
        if old.locked {
            return Err(refusal(ChangeRefused::Locked(old.date)));
        }
        removed.push(old.date);
        changed.push(old.date);
    }
    let writes = dates.len() + removed.len();
    if writes > MAX_DATE_WRITES {
        return Err(refusal(ChangeRefused::TooLarge(writes)));
    }

    let mut concert = match stored {
        Some(s) => s.concert.clone(),
        None => ConcertItem::new(id, req.name.clone(), None),
    };
    let same_concert = stored.is_some()
        && concert.name.as_ref() == Some(&req.name)
        && concert.opens_at == opens_at;
    if same_concert && dates.is_empty() && removed.is_empty() {
        return Ok(None);
    }
    concert.name = Some(req.name.clone());
    concert.opens_at = opens_at;
    concert.revision = revision;
    Ok(Some(Plan {
        write: CatalogWrite {
            concert,
            previous_revision: stored.map(|s| s.concert.revision),
            dates,
            removed,
        },
        after,
        changed,
    }))
}

fn refusal(why: ChangeRefused) -> ApiError {
    match why {
        ChangeRefused::Locked(date) => ApiError::CatalogLocked(format!(
            "seats of {date} have been held, so its sections can no longer change or go"
        )),
        ChangeRefused::OpeningInPast => {
            ApiError::validation("opensAt", "a new opening must be in the future")
        }
        ChangeRefused::OpeningOutOfRange => {
            ApiError::validation("opensAt", "must be before the year 10000 (UTC)")
        }
        ChangeRefused::TooLarge(writes) => ApiError::validation(
            "dates",
            format!(
                "this change adds, changes or removes {writes} dates; at most \
                 {MAX_DATE_WRITES} at once, so send it in two"
            ),
        ),
        ChangeRefused::OpeningPassed(at) => ApiError::CatalogLocked(format!(
            "the sale opened at {}; an opening that has passed cannot move",
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )),
    }
}

/// `make seed`: adds (or re-prices, while unlocked) dates of one section at one price, keeping
/// the concert's other dates, name and opening. Running it twice changes nothing.
pub async fn seed(
    db: &Db,
    concert: &ConcertId,
    dates: &[ConcertDate],
    seats: u16,
    price: Won,
) -> Result<Vec<ConcertDate>, ApiError> {
    let sections =
        Sections::uniform(seats, price).map_err(|e| ApiError::validation(e.field, e.reason))?;
    let stored = db.concert(concert).await?;
    let mut all: Vec<crate::domain::catalog::DateCatalog> = stored
        .iter()
        .flat_map(|s| s.dates.iter())
        .filter(|d| !dates.contains(&d.date))
        .map(|d| crate::domain::catalog::DateCatalog {
            date: d.date,
            sections: d.sections.clone(),
        })
        .collect();
    all.extend(
        dates
            .iter()
            .map(|date| crate::domain::catalog::DateCatalog {
                date: *date,
                sections: sections.clone(),
            }),
    );
    all.sort_by_key(|d| d.date);
    let name = stored
        .as_ref()
        .and_then(|s| s.concert.name.clone())
        .unwrap_or_else(|| Name::parse(concert.as_str()).expect("a concert ID is a valid name"));
    let req = CatalogRequest {
        name,
        opens_at: None,
        dates: all,
    };
    let (_, changed) = apply(db, concert, &req).await?;
    Ok(changed)
}

/// The line as an operator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueFigures {
    /// Waiting, active and admitted in the last minute; None when the line could not be read
    /// (Redis away): the controls around it are DynamoDB's and still answered.
    pub line: Option<LineFigures>,
    pub active_limit: u32,
    pub paused: bool,
    /// Null once it has passed, as in every queue answer.
    pub opens_at: Option<DateTime<Utc>>,
}

/// A concert with its line and its dates' counts.
#[derive(Debug, Clone)]
pub struct ConcertReport {
    pub stored: StoredConcert,
    pub queue: QueueFigures,
    pub counts: Vec<Counts>,
}

async fn figures(state: &AppState, concert: &ConcertItem) -> QueueFigures {
    let line = crate::store::scripts::QueueScripts::new(&state.redis, &state.settings)
        .figures(&concert.concert_id)
        .await
        .inspect_err(
            |e| tracing::warn!(error = %e, concert = %concert.concert_id, "line figures not read"),
        )
        .ok();
    let now = Utc::now();
    QueueFigures {
        line,
        active_limit: concert
            .active_limit
            .unwrap_or(state.settings.queue_active_limit),
        paused: concert.paused,
        opens_at: concert.opens_at.filter(|at| *at > now),
    }
}

fn not_found(concert: &ConcertId) -> ApiError {
    ApiError::NotFound(format!("concert {concert} does not exist"))
}

/// The concert as stored, its line and each date's available, held and sold seats.
pub async fn report(state: &AppState, concert: &ConcertId) -> Result<ConcertReport, ApiError> {
    let stored = state
        .db
        .concert(concert)
        .await?
        .ok_or_else(|| not_found(concert))?;
    let maps = futures::future::try_join_all(
        stored
            .dates
            .iter()
            .map(|d| snapshot(state, concert, &d.date)),
    );
    let (maps, queue) = futures::join!(maps, figures(state, &stored.concert));
    let maps = maps?;
    let now = Utc::now().timestamp_millis();
    let counts = maps
        .iter()
        .zip(&stored.dates)
        .map(|(map, date)| match map {
            Some(map) => map.counts(now),
            // Removed between the two reads: nothing is held or sold of it.
            None => Counts {
                seats: u32::from(date.seat_count),
                available: u32::from(date.seat_count),
                ..Counts::default()
            },
        })
        .collect();
    Ok(ConcertReport {
        stored,
        queue,
        counts,
    })
}

/// Sets `activeLimit`, `paused` or both, and answers the line as it is after. Durable in
/// DynamoDB first, then mirrored to the line, so every script obeys it from its next call
/// (within 10 s if the mirror write failed: the change is answered as made, since it is).
pub async fn set_controls(
    state: &AppState,
    concert: &ConcertId,
    active_limit: Option<u32>,
    paused: Option<bool>,
) -> Result<QueueFigures, ApiError> {
    let item = state
        .db
        .set_controls(concert, active_limit, paused)
        .await?
        .ok_or_else(|| not_found(concert))?;
    mirror(state, &item).await;
    Ok(figures(state, &item).await)
}
