//! Flows 3 and 6: the seat hold and its release. A hold is one DynamoDB round trip (the price
//! comes from the process's catalog cache); the release is one transaction, run by the stream
//! function for TTL deletions and by the sweep for holds TTL has not deleted yet.

use chrono::{Duration, Utc};

use crate::domain::{ConcertDate, ConcertId, Reservation, ReservationId, SeatNo, UserId};
use crate::error::ApiError;
use crate::flows::seats::{catalog, invalidate, locked};
use crate::metrics::{self, Metric};
use crate::state::AppState;
use crate::store::items::{keys, HoldItem, ReservationItem};
use crate::store::seats::{HoldOutcome, HoldRef, ReleaseOutcome};

pub struct HoldRequest {
    pub user: UserId,
    pub concert: ConcertId,
    pub date: ConcertDate,
    pub seat: SeatNo,
}

/// Holds the seat for HOLD_TTL_SECONDS. Of any number of concurrent requests for one seat,
/// exactly one wins: the marker's conditional put decides.
pub async fn hold(state: &AppState, req: HoldRequest) -> Result<Reservation, ApiError> {
    let missing =
        || ApiError::NotFound(format!("seat {} on {} does not exist", req.seat, req.date));
    // A performance that is over is not for sale, though its seat map stays readable.
    if req.date < ConcertDate::today_utc() {
        return Err(ApiError::NotFound(format!(
            "the performance on {} is over",
            req.date
        )));
    }
    // The price comes from the process's catalog. While the date has had no hold, an operator
    // may still change it: the hold then locks the date in its own transaction, on the
    // condition that the catalog is the version it priced at, and reads it again if not.
    const ATTEMPTS: u32 = 3;
    for attempt in 0..ATTEMPTS {
        let catalog = catalog(state, &req.concert, &req.date, attempt > 0)
            .await?
            .ok_or_else(missing)?;
        let price = catalog
            .sections
            .section_of(req.seat)
            .ok_or_else(missing)?
            .price;
        let now = Utc::now();
        let ttl = Duration::from_std(state.settings.hold_ttl).expect("hold TTL fits");
        let reservation = ReservationItem::held(
            ReservationId::generate(),
            &req.user,
            &req.concert,
            req.date,
            req.seat,
            price,
            now + ttl,
            now,
        );
        let marker = HoldItem::held(&reservation);
        let lock_at = (!catalog.locked).then_some(catalog.version);
        match state
            .db
            .put_hold(&marker, &reservation, now.timestamp_millis(), lock_at)
            .await?
        {
            HoldOutcome::Held => {
                metrics::count(Metric::HoldsWon);
                if let Some(version) = lock_at {
                    locked(state, &req.concert, &req.date, version);
                }
                invalidate(state, &req.concert, &[req.date]).await;
                return Ok(Reservation::from(&reservation));
            }
            HoldOutcome::SeatTaken => {
                metrics::count(Metric::HoldsRefused);
                return Err(ApiError::SeatUnavailable(format!(
                    "seat {} on {} is held or sold",
                    req.seat, req.date
                )));
            }
            HoldOutcome::CatalogChanged => {}
        }
    }
    Err(ApiError::Unavailable(crate::error::StoreError::Contended(
        format!(
            "the catalog of {} changed {ATTEMPTS} times during a hold",
            req.date
        ),
    )))
}

/// [`hold`] for the holder of an ACTIVE token: while the hold is live, the token counts as
/// active, so its user is never thrown out for idling at the payment step. One more Redis
/// script after the hold; if it fails the hold stands (logged), and the token keeps the
/// activity of the guard call that came just before.
pub async fn hold_for(
    state: &AppState,
    token: &crate::domain::QueueToken,
    req: HoldRequest,
) -> Result<Reservation, ApiError> {
    let reservation = hold(state, req).await?;
    let kept = crate::flows::queue::keep_active_until(state, token, reservation.expires_at).await;
    if let Err(e) = kept {
        tracing::warn!(error = %e, "a hold could not keep its token active; it idles out as usual");
    }
    Ok(reservation)
}

/// The reservation as its owner may see it; EXPIRED as soon as its time ran out.
pub async fn reservation(state: &AppState, id: &ReservationId) -> Result<Reservation, ApiError> {
    let r = state
        .db
        .get_reservation(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("reservation {id} does not exist")))?;
    Ok(Reservation::from(&r).as_of(Utc::now()))
}

/// What a release did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Released {
    /// The seat is free again and the reservation EXPIRED.
    Released,
    /// Someone holds the seat since; only the reservation was marked EXPIRED.
    ExpiredOnly,
    /// Paid, already released, or not yet due: nothing to do.
    Nothing,
}

/// Releases a hold whose time ran out. Idempotent: a second delivery changes nothing, and a
/// payment or a newer hold is never undone.
pub async fn release(state: &AppState, hold: &HoldRef) -> Result<Released, ApiError> {
    let now = Utc::now().timestamp_millis();
    let outcome = match state.db.release_hold(hold, now).await? {
        ReleaseOutcome::Released => Released::Released,
        ReleaseOutcome::NotDue => Released::Nothing,
        ReleaseOutcome::SeatTakenSince => {
            if state.db.expire_reservation_only(hold, now).await? {
                Released::ExpiredOnly
            } else {
                Released::Nothing
            }
        }
    };
    if outcome != Released::Nothing {
        invalidate(state, &hold.concert_id, &[hold.date]).await;
    }
    Ok(outcome)
}

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    pub found: usize,
    pub released: usize,
    pub failed: usize,
}

/// Releases HELD reservations whose time ran out, found through the `HeldByExpiry` index
/// (never a scan), with the same release as the stream.
pub async fn sweep(state: &AppState) -> Result<SweepReport, ApiError> {
    const PAGE: i32 = 100;
    let now = Utc::now().timestamp_millis();
    let mut report = SweepReport::default();
    for shard in 0..keys::HELD_SHARDS {
        // Each pass releases what it found, so the next page starts past it.
        for _ in 0..50 {
            let due = state.db.expired_holds(shard, now, PAGE).await?;
            report.found += due.len();
            let results =
                futures::future::join_all(due.iter().map(|hold| release(state, hold))).await;
            let mut progressed = false;
            let mut freed = 0;
            for (hold, result) in due.iter().zip(results) {
                if matches!(result, Ok(Released::Released)) {
                    freed += 1;
                }
                match result {
                    Ok(Released::Nothing) => {}
                    Ok(_) => {
                        report.released += 1;
                        progressed = true;
                    }
                    Err(e) => {
                        report.failed += 1;
                        tracing::warn!(error = %e, reservation = %hold.reservation_id, "sweep release failed");
                    }
                }
            }
            // Each of these is a hold TTL should have released by now: its lag, alarmed on.
            metrics::record(&[(Metric::SeatsReleasedBySweep, f64::from(freed))]);
            if due.len() < PAGE as usize || !progressed {
                break;
            }
        }
    }
    Ok(report)
}
