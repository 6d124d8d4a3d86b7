//! Flows 3 and 6: the seat hold and its release. A hold of one seat or several is one
//! DynamoDB round trip (the price comes from the process's catalog cache): its markers, the
//! reservation, the buyer's seat count (`MAX_SEATS_PER_USER`) and a keyed hold's record, all
//! or nothing. The expiry is one transaction, run by the stream function for TTL deletions and
//! by the sweep for holds TTL has not deleted yet; the holder's release is another.

use chrono::{Duration, Utc};
use serde::Serialize;

use crate::domain::{
    ConcertDate, ConcertId, IdempotencyKey, Reservation, ReservationId, ReservationStatus, SeatNo,
    UserId, Won,
};
use crate::error::{ApiError, StoreError};
use crate::flows::idempotency::Keyed;
use crate::flows::seats::{catalog, invalidate, locked};
use crate::metrics::{self, Metric};
use crate::state::AppState;
use crate::store::items::{keys, HoldItem, IdempotencyScope, ReservationItem};
use crate::store::seats::{HoldOutcome, HoldRef, HoldWrite, HolderReleaseOutcome, ReleaseOutcome};

/// A hold of `seats` (1 to MAX_SEATS_PER_USER distinct seats of one date, ascending); its
/// JSON is also what a keyed hold's record compares.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HoldRequest {
    pub user: UserId,
    pub concert: ConcertId,
    pub date: ConcertDate,
    pub seats: Vec<SeatNo>,
}

/// Times a hold refused by the limit releases the buyer's lapsed holds and tries again.
const LIMIT_RETRIES: u32 = 2;

/// Holds the seats for HOLD_TTL_SECONDS, all or none. Of any number of concurrent requests
/// for one seat, exactly one wins: the marker's conditional put decides; of any number of
/// concurrent holds by one buyer, only those the seat count has room for commit.
pub async fn hold(
    state: &AppState,
    req: HoldRequest,
    key: Option<&IdempotencyKey>,
) -> Result<Reservation, ApiError> {
    let keyed = Keyed::new(&req.user, IdempotencyScope::Hold, key, &req)?;
    let limit = state.settings.max_seats_per_user;
    if req.seats.len() > limit as usize {
        return Err(limit_reached(limit));
    }
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
    let mut fresh = false;
    let mut catalog_changes = 0;
    let mut limit_retries = 0;
    loop {
        let catalog = catalog(state, &req.concert, &req.date, fresh)
            .await?
            .ok_or_else(|| missing(&req, req.seats[0]))?;
        let mut price = 0u64;
        for seat in &req.seats {
            let section = catalog
                .sections
                .section_of(*seat)
                .ok_or_else(|| missing(&req, *seat))?;
            price += section.price.get();
        }
        let now = Utc::now();
        let ttl = Duration::from_std(state.settings.hold_ttl).expect("hold TTL fits");
        let reservation = ReservationItem::held_seats(
            ReservationId::generate(),
            &req.user,
            &req.concert,
            req.date,
            &req.seats,
            Won::new(price),
            now + ttl,
            now,
        );
        let result = Reservation::from(&reservation);
        let record = keyed.as_ref().map(|k| k.record(&result, now)).transpose()?;
        let markers = HoldItem::markers(&reservation);
        let lock_at = (!catalog.locked).then_some(catalog.version);
        let write = HoldWrite {
            markers: &markers,
            reservation: &reservation,
            limit,
            lock_at,
            record: record.as_ref(),
        };
        let outcome = state.db.hold_seats(&write, now.timestamp_millis()).await?;
        // A keyed hold refused for its seats or the limit may be refused because the same
        // request already holds them: its record says so (DynamoDB need not report every
        // failed condition of a cancelled transaction).
        let outcome = match (&keyed, outcome) {
            (Some(k), refused @ (HoldOutcome::SeatTaken(_) | HoldOutcome::LimitReached(_))) => {
                match state.db.idempotency_record(k.user, k.scope, k.key).await? {
                    Some(record) => HoldOutcome::KeyTaken(Some(record)),
                    None => refused,
                }
            }
            (_, outcome) => outcome,
        };
        match outcome {
            HoldOutcome::Held => {
                metrics::count(Metric::HoldsWon);
                if let Some(version) = lock_at {
                    locked(state, &req.concert, &req.date, version);
                }
                invalidate(state, &req.concert, &[req.date]).await;
                return Ok(result);
            }
            HoldOutcome::SeatTaken(seat) => {
                metrics::count(Metric::HoldsRefused);
                return Err(ApiError::SeatUnavailable(format!(
                    "seat {seat} on {} is held or sold",
                    req.date
                )));
            }
            HoldOutcome::LimitReached(count) => {
                // Holds whose time ran out still count until their release (TTL and the
                // sweep may lag): release them now, then try again.
                let now_ms = Utc::now().timestamp_millis();
                let lapsed: Vec<HoldRef> = count
                    .map(|c| c.counted_holds())
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|h| !crate::domain::seats::hold_is_live(h.expires_at, now_ms))
                    .map(|h| HoldRef {
                        reservation_id: h.reservation_id,
                        user_id: req.user.clone(),
                        concert_id: req.concert.clone(),
                        date: h.date,
                        seat_nos: h.seat_nos,
                        expires_at: h.expires_at,
                        counted: true,
                    })
                    .collect();
                if lapsed.is_empty() || limit_retries >= LIMIT_RETRIES {
                    metrics::count(Metric::HoldsRefused);
                    return Err(limit_reached(limit));
                }
                limit_retries += 1;
                for hold in &lapsed {
                    release(state, hold).await?;
                }
            }
            HoldOutcome::CatalogChanged => {
                catalog_changes += 1;
                if catalog_changes >= ATTEMPTS {
                    return Err(ApiError::Unavailable(StoreError::Contended(format!(
                        "the catalog of {} changed {ATTEMPTS} times during a hold",
                        req.date
                    ))));
                }
                fresh = true;
            }
            HoldOutcome::KeyTaken(image) => {
                if let Some(keyed) = &keyed {
                    if let Some(first) = keyed.replay_winner(state, image).await? {
                        return Ok(first);
                    }
                }
                // The key's record is not there: our bug, since nothing deletes one.
                return Err(StoreError::Unexpected(
                    "a hold's key was taken, but its record is missing".into(),
                )
                .into());
            }
        }
    }
}

fn missing(req: &HoldRequest, seat: SeatNo) -> ApiError {
    ApiError::NotFound(format!("seat {seat} on {} does not exist", req.date))
}

fn limit_reached(limit: u32) -> ApiError {
    ApiError::SeatLimitReached(format!(
        "a buyer may have at most {limit} seats of a concert, held and bought together"
    ))
}

/// [`hold`] for the holder of an ACTIVE token: while the hold is live, the token counts as
/// active, so its user is never thrown out for idling at the payment step. One more Redis
/// script after the hold; if it fails the hold stands (logged), and the token keeps the
/// activity of the guard call that came just before.
pub async fn hold_for(
    state: &AppState,
    token: &crate::domain::QueueToken,
    req: HoldRequest,
    key: Option<&IdempotencyKey>,
) -> Result<Reservation, ApiError> {
    let reservation = hold(state, req, key).await?;
    let kept = crate::flows::queue::keep_active_until(
        state,
        token,
        reservation.expires_at,
        &reservation.reservation_id,
    )
    .await;
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

/// What an expiry did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Released {
    /// Its seats (or those still its own) are free again and the reservation EXPIRED.
    Released,
    /// Someone holds its seats since; only the reservation was marked EXPIRED.
    ExpiredOnly,
    /// Paid, already released, or not yet due: nothing to do.
    Nothing,
}

/// Releases a hold whose time ran out. Idempotent: a second delivery changes nothing, and a
/// payment or a newer hold is never undone.
pub async fn release(state: &AppState, hold: &HoldRef) -> Result<Released, ApiError> {
    let now = Utc::now().timestamp_millis();
    let outcome = match state.db.release_hold(hold, now).await? {
        ReleaseOutcome::Released { freed: 0 } => Released::ExpiredOnly,
        ReleaseOutcome::Released { .. } => Released::Released,
        ReleaseOutcome::NotDue => Released::Nothing,
    };
    if outcome != Released::Nothing {
        invalidate(state, &hold.concert_id, &[hold.date]).await;
    }
    Ok(outcome)
}

/// [`release_by_holder`] with the holder's ACTIVE token: once released, the hold no longer
/// keeps the token active, whose idle clock restarts at the release (unless another live hold
/// keeps it). One more Redis script after the release; if it fails the release stands
/// (logged), and the token idles out by the hold's end as before.
pub async fn release_for(
    state: &AppState,
    token: &crate::domain::QueueToken,
    user: &UserId,
    id: &ReservationId,
) -> Result<Reservation, ApiError> {
    let released = release_by_holder(state, user, id).await?;
    if let Err(e) = crate::flows::queue::hold_released(state, token, id).await {
        tracing::warn!(error = %e, "a released hold still keeps its token active until its end");
    }
    Ok(released)
}

/// Releases a live hold at its holder's request (`DELETE /reservations/{id}`): its seats are
/// free at once. Asked again, the same answer. A paid reservation is RESERVATION_NOT_HELD, a
/// lapsed one RESERVATION_EXPIRED; another user's is FORBIDDEN.
pub async fn release_by_holder(
    state: &AppState,
    user: &UserId,
    id: &ReservationId,
) -> Result<Reservation, ApiError> {
    let stored = state
        .db
        .get_reservation(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("reservation {id} does not exist")))?;
    if &stored.user_id != user {
        return Err(ApiError::Forbidden(format!(
            "reservation {id} belongs to another user"
        )));
    }
    let now = Utc::now();
    if let Some(answer) = settled(&stored, now) {
        return answer;
    }
    let hold = HoldRef::from(&stored);
    match state.db.release_by_holder(&hold, now).await? {
        HolderReleaseOutcome::Released => {
            metrics::record(&[(Metric::SeatsReleasedByHolder, hold.seat_nos.len() as f64)]);
            invalidate(state, &stored.concert_id, &[stored.date]).await;
            let mut released = Reservation::from(&stored);
            released.status = ReservationStatus::Released;
            Ok(released)
        }
        HolderReleaseOutcome::NotHeld(now_is) => {
            let current = match now_is {
                Some(r) => *r,
                None => state.db.get_reservation(id).await?.ok_or_else(|| {
                    ApiError::NotFound(format!("reservation {id} does not exist"))
                })?,
            };
            settled(&current, Utc::now()).unwrap_or_else(|| {
                Err(StoreError::Unexpected(format!(
                    "the release of reservation {id} was refused, yet it is a live hold"
                ))
                .into())
            })
        }
    }
}

/// The answer to a holder's release of a reservation that is no longer a live hold; `None`
/// for a live hold.
fn settled(
    r: &ReservationItem,
    now: chrono::DateTime<Utc>,
) -> Option<Result<Reservation, ApiError>> {
    let id = r.reservation_id;
    let view = Reservation::from(r).as_of(now);
    match view.status {
        ReservationStatus::Held => None,
        ReservationStatus::Released => Some(Ok(view)),
        ReservationStatus::Confirmed | ReservationStatus::Refunded => {
            Some(Err(ApiError::ReservationNotHeld(format!(
                "reservation {id} is paid: it can be refunded, not released"
            ))))
        }
        ReservationStatus::Expired => Some(Err(ApiError::ReservationExpired(format!(
            "the hold of reservation {id} has expired"
        )))),
    }
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
