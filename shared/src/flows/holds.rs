//! Flows 3 and 6: the seat hold and its release. A hold is one DynamoDB round trip (the price
//! comes from the process's catalog cache); the release is one transaction, run by the stream
//! function for TTL deletions and by the sweep for holds TTL has not deleted yet.

use chrono::{Duration, Utc};

use crate::domain::{ConcertDate, ConcertId, ReservationId, SeatNo, UserId};
use crate::error::ApiError;
use crate::flows::seats::{invalidate_dates, prices};
use crate::state::AppState;
use crate::store::dynamo::{retry_conflicts, TxError};
use crate::store::items::{keys, HoldItem, ReservationItem, ReservationStatus};
use crate::store::seats::HoldRef;

pub struct HoldRequest {
    pub user: UserId,
    pub concert: ConcertId,
    pub date: ConcertDate,
    pub seat: SeatNo,
}

/// Holds the seat for HOLD_TTL_SECONDS. Of any number of concurrent requests for one seat,
/// exactly one wins: the marker's conditional put decides.
pub async fn hold(state: &AppState, req: HoldRequest) -> Result<ReservationItem, ApiError> {
    let missing =
        || ApiError::NotFound(format!("seat {} on {} does not exist", req.seat, req.date));
    // A performance that is over is not for sale, though its seat map stays readable.
    if req.date < ConcertDate::today_utc() {
        return Err(ApiError::NotFound(format!(
            "the performance on {} is over",
            req.date
        )));
    }
    let prices = prices(state, &req.concert, &req.date)
        .await?
        .ok_or_else(missing)?;
    let price = *prices
        .get(usize::from(req.seat.get()) - 1)
        .ok_or_else(missing)?;

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
    state
        .db
        .put_hold(&marker, &reservation, now.timestamp_millis())
        .await
        .map_err(|e| hold_refusal(e, &req))?;
    invalidate_dates(state, &req.concert).await;
    Ok(reservation)
}

/// Why a hold was not written. The marker's failed condition means someone else holds or
/// bought the seat. So does a TransactionConflict on it (AWS only, never DynamoDB Local):
/// another hold is committing on that marker right now.
fn hold_refusal(e: TxError, req: &HoldRequest) -> ApiError {
    if e.reason(0)
        .is_some_and(|r| r.condition_failed() || r.conflict())
    {
        return ApiError::SeatUnavailable(format!(
            "seat {} on {} is held or sold",
            req.seat, req.date
        ));
    }
    tx_error(e)
}

/// A transaction that failed for a reason that is not an answer: 503 or 500.
pub fn tx_error(e: TxError) -> ApiError {
    match e {
        TxError::Store(e) => e.into(),
        // Throttled, or conflicts outlasted their retries: come back later.
        cancelled @ TxError::Cancelled(_) => {
            ApiError::Unavailable(crate::StoreError::Unexpected(cancelled.to_string()))
        }
    }
}

/// The reservation as its owner may see it; EXPIRED as soon as its time ran out.
pub async fn reservation(
    state: &AppState,
    id: &ReservationId,
) -> Result<ReservationItem, ApiError> {
    let mut r = state
        .db
        .get_reservation(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("reservation {id} does not exist")))?;
    if r.status == ReservationStatus::Held && r.expires_at <= Utc::now().timestamp_millis() {
        r.status = ReservationStatus::Expired;
    }
    Ok(r)
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
    let outcome = match retry_conflicts(|| state.db.release_hold(hold, now)).await {
        Ok(()) => Released::Released,
        Err(e) if e.reason(1).is_some_and(|r| r.condition_failed()) => Released::Nothing,
        Err(e) if e.reason(0).is_some_and(|r| r.condition_failed()) => {
            if state.db.expire_reservation_only(hold, now).await? {
                Released::ExpiredOnly
            } else {
                Released::Nothing
            }
        }
        Err(e) => return Err(tx_error(e)),
    };
    if outcome != Released::Nothing {
        invalidate_dates(state, &hold.concert_id).await;
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
            for (hold, result) in due.iter().zip(results) {
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
            if due.len() < PAGE as usize || !progressed {
                break;
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::dynamo::Reason;

    fn request() -> HoldRequest {
        HoldRequest {
            user: UserId::parse("u").unwrap(),
            concert: ConcertId::parse("c").unwrap(),
            date: ConcertDate::parse("2026-12-24").unwrap(),
            seat: SeatNo::new(7).unwrap(),
        }
    }

    fn cancelled(codes: &[&str]) -> TxError {
        TxError::Cancelled(
            codes
                .iter()
                .map(|c| Reason {
                    code: (*c).to_owned(),
                    old: None,
                })
                .collect(),
        )
    }

    #[test]
    fn a_transaction_conflict_on_the_marker_means_someone_else_got_there_first() {
        let err = hold_refusal(cancelled(&["TransactionConflict", "None"]), &request());
        assert_eq!(err.problem().code, "SEAT_UNAVAILABLE");
        assert_eq!(err.problem().status, 409);
    }

    #[test]
    fn a_failed_marker_condition_is_seat_unavailable() {
        let err = hold_refusal(cancelled(&["ConditionalCheckFailed", "None"]), &request());
        assert_eq!(err.problem().code, "SEAT_UNAVAILABLE");
    }

    #[test]
    fn throttling_is_503_not_a_refusal_of_the_seat() {
        let err = hold_refusal(cancelled(&["ThrottlingError", "None"]), &request());
        assert_eq!(err.problem().code, "SERVICE_UNAVAILABLE");
    }

    #[test]
    fn a_cancelled_transaction_is_logged_by_its_codes_never_its_item_images() {
        let image = crate::store::dynamo::key("USER#u", "IDEMPOTENCY#payment#k");
        let err = tx_error(TxError::Cancelled(vec![
            Reason {
                code: "ThrottlingError".to_owned(),
                old: None,
            },
            Reason {
                code: "ConditionalCheckFailed".to_owned(),
                old: Some(image),
            },
        ]));
        let ApiError::Unavailable(cause) = &err else {
            panic!("503 expected, got {err:?}");
        };
        let logged = cause.to_string();
        assert!(
            logged.contains("[ThrottlingError, ConditionalCheckFailed]"),
            "{logged}"
        );
        assert!(!logged.contains("IDEMPOTENCY"), "{logged}");
    }
}
