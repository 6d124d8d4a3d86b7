//! Flow 5, payment. DynamoDB round trips: 2. One BatchGetItem reads the reservation, the
//! balance and the key's record; one TransactWriteItems debits the balance, sells the seat,
//! confirms the reservation and writes the payment, the ledger entry and the key's record,
//! all or nothing. Then Redis: the token is spent (its active place freed) and the dates
//! cache invalidated.

use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::domain::{IdempotencyKey, PaymentId, QueueToken, ReservationId, UserId, Won};
use crate::error::{ApiError, StoreError};
use crate::flows::balance::{replay, Answer};
use crate::flows::holds::tx_error;
use crate::flows::seats::invalidate_dates;
use crate::state::AppState;
use crate::store::dynamo::{from_item, retry_conflicts, TxError};
use crate::store::items::{
    BalanceItem, IdempotencyItem, IdempotencyScope, LedgerItem, LedgerKind, PaymentItem,
    ReservationItem, ReservationStatus,
};
use crate::store::payments::{
    PaymentWrite, PAY_BALANCE, PAY_IDEMPOTENCY, PAY_MARKER, PAY_PAYMENT, PAY_RESERVATION,
};

/// Other payments of the same user that may commit first before this one gives up (503).
const PAY_ATTEMPTS: u32 = 50;

/// `POST /payments` body; its JSON is also what an idempotency record compares.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PayRequest {
    pub user_id: UserId,
    pub reservation_id: ReservationId,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentView {
    pub payment_id: PaymentId,
    pub reservation_id: ReservationId,
    pub user_id: UserId,
    pub amount: Won,
    pub balance: Won,
    pub status: &'static str,
    pub paid_at: String,
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(StoreError::Unexpected(e.to_string()))
}

/// Why a reservation cannot be paid, from what it is now.
fn refusal(r: &ReservationItem, now_ms: i64) -> Option<ApiError> {
    let id = r.reservation_id;
    match r.status {
        ReservationStatus::Confirmed => Some(ApiError::ReservationNotHeld(format!(
            "reservation {id} is already paid"
        ))),
        ReservationStatus::Expired => Some(ApiError::ReservationExpired(format!(
            "the hold of reservation {id} has expired"
        ))),
        ReservationStatus::Held if r.expires_at <= now_ms => Some(ApiError::ReservationExpired(
            format!("the hold of reservation {id} has expired"),
        )),
        ReservationStatus::Held => None,
    }
}

/// Pays a HELD reservation from the user's balance; then spends the token.
pub async fn pay(
    state: &AppState,
    token: &QueueToken,
    request: &PayRequest,
    key: Option<&IdempotencyKey>,
) -> Result<Answer, ApiError> {
    let canonical = serde_json::to_string(request).map_err(internal)?;
    let user = &request.user_id;
    let read = state
        .db
        .payment_read(&request.reservation_id, user, key)
        .await?;
    if let Some(record) = read.idempotency {
        return replay(record, &canonical);
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
            return Err(ApiError::InsufficientBalance(format!(
                "the balance of {base} is below the price of {price}"
            )));
        };
        let payment = PaymentItem::new(&reservation, left, now);
        let view = PaymentView {
            payment_id: payment.payment_id,
            reservation_id: reservation.reservation_id,
            user_id: user.clone(),
            amount: price,
            balance: left,
            status: "COMPLETED",
            paid_at: crate::http::views::instant(now),
        };
        let body = serde_json::to_string(&view).map_err(internal)?;
        let balance = BalanceItem::new(user, left, now);
        let entry = LedgerItem::new(
            user,
            *payment.payment_id.as_uuid(),
            LedgerKind::Payment,
            price,
            left,
            now,
        );
        let record = key.map(|k| {
            IdempotencyItem::new(
                user,
                IdempotencyScope::Payment,
                k,
                canonical.clone(),
                201,
                body.clone(),
                now,
            )
        });
        let write = PaymentWrite {
            old: base,
            balance: &balance,
            reservation: &reservation,
            payment: &payment,
            entry: &entry,
            record: record.as_ref(),
        };
        let committed = retry_conflicts(|| state.db.commit_payment(&write, now_ms)).await;
        match committed {
            Ok(()) => {
                after_commit(state, token, &reservation).await;
                return Ok(Answer { status: 201, body });
            }
            Err(e) => match classify(e, &reservation, now_ms)? {
                Retry::Balance(now_held) => old = now_held,
                Retry::Replay(found) => {
                    let found = match found {
                        Some(r) => Some(r),
                        None => match key {
                            Some(k) => {
                                state
                                    .db
                                    .idempotency_record(user, IdempotencyScope::Payment, k)
                                    .await?
                            }
                            None => None,
                        },
                    };
                    if let Some(record) = found {
                        return replay(record, &canonical);
                    }
                }
            },
        }
    }
    Err(ApiError::Unavailable(StoreError::Unexpected(format!(
        "the balance of {user} kept moving: {PAY_ATTEMPTS} payment attempts lost the race"
    ))))
}

/// After the commit: the token is spent and its active place freed (idempotent; if this
/// fails, the token's own expiry frees the place), and the dates cache forgets the seat.
async fn after_commit(state: &AppState, token: &QueueToken, r: &ReservationItem) {
    if let Err(e) = crate::flows::queue::spend(state, token).await {
        tracing::warn!(error = %e, "spending the token after a payment failed; it expires on its own");
    }
    invalidate_dates(state, &r.concert_id).await;
}

enum Retry {
    /// Another payment or charge moved the balance; what it is now.
    Balance(Option<Won>),
    /// A request with the same key won; its record if it came back.
    Replay(Option<IdempotencyItem>),
}

/// Reads a cancelled payment's reasons to answer the precise refusal, or to try again.
fn classify(err: TxError, r: &ReservationItem, now_ms: i64) -> Result<Retry, ApiError> {
    let failed = |i: usize| err.reason(i).is_some_and(|x| x.condition_failed());
    if failed(PAY_IDEMPOTENCY) {
        let image = err.reason(PAY_IDEMPOTENCY).and_then(|x| x.old.clone());
        return Ok(Retry::Replay(image.map(from_item).transpose()?));
    }
    if failed(PAY_PAYMENT) {
        return Err(ApiError::ReservationNotHeld(format!(
            "reservation {} is already paid",
            r.reservation_id
        )));
    }
    if failed(PAY_RESERVATION) || failed(PAY_MARKER) {
        // The reservation as it is now says which: paid by now, or expired.
        let now_is = err
            .reason(PAY_RESERVATION)
            .and_then(|x| x.old.clone())
            .map(from_item::<ReservationItem>)
            .transpose()?;
        let current = now_is.as_ref().unwrap_or(r);
        return Err(refusal(current, now_ms).unwrap_or_else(|| {
            ApiError::ReservationExpired(format!(
                "the hold of reservation {} has expired",
                r.reservation_id
            ))
        }));
    }
    if failed(PAY_BALANCE) {
        let image = err.reason(PAY_BALANCE).and_then(|x| x.old.clone());
        let now_held = image.map(from_item::<BalanceItem>).transpose()?;
        return Ok(Retry::Balance(now_held.map(|b| b.balance)));
    }
    Err(tx_error(err))
}
