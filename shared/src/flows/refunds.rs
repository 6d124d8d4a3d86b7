//! Refunds. DynamoDB round trips: 2. One BatchGetItem reads the reservation, its payment, the
//! balance and the key's record; one TransactWriteItems credits the balance (with its ledger
//! entry), frees the seats (their SOLD markers deleted), gives them back to the buyer's seat
//! count, and marks the reservation and its payment REFUNDED, all or nothing. Then one Redis
//! call invalidates the dates cache. A refund asked again is the read alone: the reservation
//! is REFUNDED and its payment keeps the answer.
//!
//! Once per reservation by construction: the transaction holds only while the reservation is
//! CONFIRMED. The balance limit does not refuse a refund: the money was the buyer's. A seat
//! the door let in is not refunded (ALREADY_CHECKED_IN): each SOLD marker's delete is
//! conditioned on it, so a refund and a check-in of one seat never both happen.

use chrono::{DateTime, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{IdempotencyKey, ReservationId, ReservationStatus, UserId, Won};
use crate::error::{ApiError, StoreError};
use crate::flows::idempotency::Keyed;
use crate::flows::seats::invalidate;
use crate::metrics::{self, Metric};
use crate::state::AppState;
use crate::store::items::{
    BalanceItem, IdempotencyScope, LedgerItem, LedgerKind, PaymentItem, PaymentStatus,
    ReservationItem,
};
use crate::store::refunds::{RefundOutcome, RefundWrite};

/// Other writes of the same balance that may commit first before a refund gives up (503).
const REFUND_ATTEMPTS: u32 = 50;

/// What a keyed refund's record compares: the reservation it refunds.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct RefundRequest {
    reservation_id: ReservationId,
}

/// A refund; also what a keyed refund's record keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Refunded {
    pub reservation_id: ReservationId,
    pub user_id: UserId,
    pub amount: Won,
    /// The balance right after the refund.
    pub balance: Won,
    pub refunded_at: DateTime<Utc>,
}

/// The answer a refunded reservation gives again, from its payment.
fn again(r: &ReservationItem, payment: Option<&PaymentItem>) -> Result<Refunded, ApiError> {
    let p = payment.ok_or_else(|| {
        ApiError::from(StoreError::Unexpected(format!(
            "reservation {} is REFUNDED without a payment",
            r.reservation_id
        )))
    })?;
    Ok(Refunded {
        reservation_id: r.reservation_id,
        user_id: r.user_id.clone(),
        amount: p.amount,
        balance: p.balance_after_refund.unwrap_or(p.balance_after),
        refunded_at: p.refunded_at.or(r.refunded_at).unwrap_or(p.paid_at),
    })
}

/// Refunds a CONFIRMED reservation of `user` until REFUND_CUTOFF_HOURS before its date
/// starts (00:00 UTC).
pub async fn refund(
    state: &AppState,
    user: &UserId,
    id: &ReservationId,
    key: Option<&IdempotencyKey>,
) -> Result<Refunded, ApiError> {
    let request = RefundRequest {
        reservation_id: *id,
    };
    let keyed = Keyed::new(user, IdempotencyScope::Refund, key, &request)?;
    let read = state.db.refund_read(id, user, key).await?;
    if let (Some(record), Some(keyed)) = (read.idempotency, &keyed) {
        return keyed.replay(record);
    }
    let reservation = read
        .reservation
        .ok_or_else(|| ApiError::NotFound(format!("reservation {id} does not exist")))?;
    if &reservation.user_id != user {
        return Err(ApiError::Forbidden(format!(
            "reservation {id} belongs to another user"
        )));
    }
    match reservation.status {
        ReservationStatus::Refunded => {
            // A BatchGetItem reads each item on its own: the payment may have been read just
            // before the refund's transaction, which wrote both. Read after it, it has it.
            let payment = match read.payment {
                Some(p) if p.status == PaymentStatus::Refunded => Some(p),
                _ => state.db.payment(id).await?,
            };
            return again(&reservation, payment.as_ref());
        }
        ReservationStatus::Confirmed => {}
        _ => return Err(not_paid(id)),
    }
    let starts = reservation.date.naive().and_time(NaiveTime::MIN).and_utc();
    let cutoff = chrono::Duration::from_std(state.settings.refund_cutoff).expect("cutoff fits");
    let amount = reservation.price;
    let mut old = read.balance.map(|b| b.balance);
    for _ in 0..REFUND_ATTEMPTS {
        let now = Utc::now();
        if starts - now <= cutoff {
            return Err(ApiError::RefundWindowClosed(format!(
                "reservation {id} could be refunded until {} hours before its date",
                cutoff.num_hours()
            )));
        }
        let new = Won::new(old.unwrap_or(Won::ZERO).get() + amount.get());
        let refunded = Refunded {
            reservation_id: *id,
            user_id: user.clone(),
            amount,
            balance: new,
            refunded_at: now,
        };
        let balance = BalanceItem::new(user, new, now);
        let entry_id = crate::domain::PaymentId::of(id);
        let entry = LedgerItem::new(
            user,
            *entry_id.as_uuid(),
            LedgerKind::Refund,
            amount,
            new,
            now,
        );
        let record = keyed
            .as_ref()
            .map(|k| k.record(&refunded, now))
            .transpose()?;
        let write = RefundWrite {
            old,
            balance: &balance,
            entry: &entry,
            reservation: &reservation,
            record: record.as_ref(),
        };
        match state.db.commit_refund(&write, now).await? {
            RefundOutcome::Committed => {
                metrics::record(&[
                    (Metric::Refunds, 1.0),
                    (Metric::RefundedAmount, amount.get() as f64),
                ]);
                invalidate(state, &reservation.concert_id, &[reservation.date]).await;
                return Ok(refunded);
            }
            RefundOutcome::BalanceMoved(Some(now_held)) => old = Some(now_held),
            RefundOutcome::BalanceMoved(None) => {
                old = state.db.balance(user).await?.map(|b| b.balance);
            }
            RefundOutcome::NotPaid(now_is) => {
                let current = match now_is {
                    Some(r) => r,
                    None => state
                        .db
                        .get_reservation(id)
                        .await?
                        .ok_or_else(|| not_paid(id))?,
                };
                if current.status != ReservationStatus::Refunded {
                    return Err(not_paid(id));
                }
                // Another refund of it committed first: its answer.
                let payment = state.db.payment(id).await?;
                return again(&current, payment.as_ref());
            }
            RefundOutcome::CheckedIn { seat, at } => {
                return Err(ApiError::AlreadyCheckedIn {
                    what: format!("seat {seat} of reservation {id}"),
                    at,
                })
            }
            RefundOutcome::KeyTaken(image) => {
                if let Some(keyed) = &keyed {
                    if let Some(first) = keyed.replay_winner(state, image).await? {
                        return Ok(first);
                    }
                }
            }
        }
    }
    Err(StoreError::Contended(format!(
        "the balance of {user} kept moving: {REFUND_ATTEMPTS} refund attempts lost the race"
    ))
    .into())
}

fn not_paid(id: &ReservationId) -> ApiError {
    ApiError::ReservationNotPaid(format!("reservation {id} is not paid"))
}
