//! Flow 5, payment. DynamoDB round trips: 2. One BatchGetItem reads the reservation, the
//! balance and the key's record; one TransactWriteItems debits the balance, sells the seat,
//! confirms the reservation and writes the payment, the ledger entry and the key's record,
//! all or nothing. Then Redis: the token is spent (its active place freed) and the dates
//! cache invalidated. A balance short of the price adds one GetItem of the reservation before
//! answering INSUFFICIENT_BALANCE.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::seats::hold_is_live;
use crate::domain::{ConcertId, IdempotencyKey, PaymentId, QueueToken, ReservationId, UserId, Won};
use crate::error::{ApiError, StoreError};
use crate::flows::idempotency::Keyed;
use crate::flows::seats::invalidate;
use crate::state::AppState;
use crate::store::items::{
    BalanceItem, IdempotencyScope, LedgerItem, LedgerKind, PaymentItem, ReservationItem,
    ReservationStatus,
};
use crate::store::payments::{PaymentOutcome, PaymentWrite};

/// Other payments of the same user that may commit first before this one gives up (503).
const PAY_ATTEMPTS: u32 = 50;

/// `POST /payments` body; its JSON is also what an idempotency record compares.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PayRequest {
    pub user_id: UserId,
    pub reservation_id: ReservationId,
}

/// A completed payment; also what a keyed payment's record keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Paid {
    pub payment_id: PaymentId,
    pub reservation_id: ReservationId,
    pub user_id: UserId,
    pub amount: Won,
    /// The balance left after paying.
    pub balance: Won,
    pub paid_at: DateTime<Utc>,
}

/// Who pays: the token's holder, for the token's concert.
#[derive(Debug, Clone, Copy)]
pub struct Payer<'a> {
    pub token: &'a QueueToken,
    pub concert: &'a ConcertId,
}

/// Why a reservation cannot be paid, from what it is now.
fn refusal(r: &ReservationItem, now_ms: i64) -> Option<ApiError> {
    let id = r.reservation_id;
    let expired =
        || ApiError::ReservationExpired(format!("the hold of reservation {id} has expired"));
    match r.status {
        ReservationStatus::Confirmed => Some(ApiError::ReservationNotHeld(format!(
            "reservation {id} is already paid"
        ))),
        ReservationStatus::Released | ReservationStatus::Refunded => {
            Some(ApiError::ReservationNotHeld(format!(
                "reservation {id} is {}",
                if r.status == ReservationStatus::Released {
                    "released"
                } else {
                    "refunded"
                }
            )))
        }
        ReservationStatus::Expired => Some(expired()),
        ReservationStatus::Held if !hold_is_live(r.expires_at, now_ms) => Some(expired()),
        ReservationStatus::Held => None,
    }
}

/// Pays a HELD reservation from the user's balance; then spends the token.
pub async fn pay(
    state: &AppState,
    payer: Payer<'_>,
    request: &PayRequest,
    key: Option<&IdempotencyKey>,
) -> Result<Paid, ApiError> {
    let user = &request.user_id;
    let keyed = Keyed::new(user, IdempotencyScope::Payment, key, request)?;
    let read = state
        .db
        .payment_read(&request.reservation_id, user, key)
        .await?;
    if let (Some(record), Some(keyed)) = (read.idempotency, &keyed) {
        return keyed.replay(record);
    }
    let reservation = read.reservation.ok_or_else(|| {
        ApiError::NotFound(format!(
            "reservation {} does not exist",
            request.reservation_id
        ))
    })?;
    if &reservation.user_id != user {
        return Err(ApiError::Forbidden(format!(
            "reservation {} belongs to another user",
            reservation.reservation_id
        )));
    }
    // A token is a place in one concert's line: it pays for that concert's holds only, and a
    // payment spends it.
    if &reservation.concert_id != payer.concert {
        return Err(ApiError::Forbidden(format!(
            "reservation {} is for another concert than the token's",
            reservation.reservation_id
        )));
    }
    let price = reservation.price;
    let mut old = read.balance.map(|b| b.balance);
    for _ in 0..PAY_ATTEMPTS {
        let now = Utc::now();
        let now_ms = now.timestamp_millis();
        if let Some(refused) = refusal(&reservation, now_ms) {
            return Err(refused);
        }
        let base = old.unwrap_or(Won::ZERO);
        let Some(left) = base.get().checked_sub(price.get()).map(Won::new) else {
            // The short balance may be a concurrent payment's debit of this very reservation
            // (the read's items are not one snapshot, and a lost race hands back the new
            // balance): the reservation as it is now says whether it is paid already.
            if let Some(current) = state
                .db
                .get_reservation(&reservation.reservation_id)
                .await?
            {
                if let Some(refused) = refusal(&current, now_ms) {
                    return Err(refused);
                }
            }
            return Err(ApiError::InsufficientBalance(format!(
                "the balance of {base} is below the price of {price}"
            )));
        };
        let payment = PaymentItem::new(&reservation, left, now);
        let paid = Paid {
            payment_id: payment.payment_id,
            reservation_id: reservation.reservation_id,
            user_id: user.clone(),
            amount: price,
            balance: left,
            paid_at: now,
        };
        let balance = BalanceItem::new(user, left, now);
        let entry = LedgerItem::new(
            user,
            *payment.payment_id.as_uuid(),
            LedgerKind::Payment,
            price,
            left,
            now,
        );
        let record = keyed.as_ref().map(|k| k.record(&paid, now)).transpose()?;
        let write = PaymentWrite {
            old: base,
            balance: &balance,
            reservation: &reservation,
            payment: &payment,
            entry: &entry,
            record: record.as_ref(),
        };
        match state.db.commit_payment(&write, now_ms).await? {
            PaymentOutcome::Committed => {
                crate::metrics::record(&[
                    (crate::metrics::Metric::Payments, 1.0),
                    (crate::metrics::Metric::Revenue, price.get() as f64),
                ]);
                after_commit(state, payer.token, &reservation).await;
                return Ok(paid);
            }
            PaymentOutcome::BalanceMoved(now_held) => old = now_held,
            PaymentOutcome::AlreadyPaid => {
                return Err(ApiError::ReservationNotHeld(format!(
                    "reservation {} is already paid",
                    reservation.reservation_id
                )))
            }
            PaymentOutcome::NotHeld(now_is) => {
                // The reservation as it is now says which: paid by now, or expired.
                let current = now_is.as_ref().unwrap_or(&reservation);
                return Err(refusal(current, now_ms).unwrap_or_else(|| {
                    ApiError::ReservationExpired(format!(
                        "the hold of reservation {} has expired",
                        reservation.reservation_id
                    ))
                }));
            }
            PaymentOutcome::KeyTaken(image) => {
                if let Some(keyed) = &keyed {
                    if let Some(first) = keyed.replay_winner(state, image).await? {
                        return Ok(first);
                    }
                }
            }
        }
    }
    Err(StoreError::Contended(format!(
        "the balance of {user} kept moving: {PAY_ATTEMPTS} payment attempts lost the race"
    ))
    .into())
}

/// After the commit: the token is spent and its active place freed (idempotent; if this
/// fails, the token's own expiry frees the place), and the dates cache forgets the seat.
async fn after_commit(state: &AppState, token: &QueueToken, r: &ReservationItem) {
    if let Err(e) = crate::flows::queue::spend(state, token).await {
        tracing::warn!(error = %e, "spending the token after a payment failed; it expires on its own");
    }
    invalidate(state, &r.concert_id, &[r.date]).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payment_result_reads_a_record_written_before_results_were_typed() {
        let stored = r#"{"paymentId":"4b7c7f0e-8d1e-5b7a-9c1a-2f0e8d1e5b7a","reservationId":"0b7c7f0e-8d1e-4b7a-9c1a-2f0e8d1e5b7a","userId":"u-1","amount":50000,"balance":0,"status":"COMPLETED","paidAt":"2026-12-24T19:00:00Z"}"#;
        let paid: Paid = serde_json::from_str(stored).unwrap();
        assert_eq!(paid.amount, Won::new(50_000));
    }
}
