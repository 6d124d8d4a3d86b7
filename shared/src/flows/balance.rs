//! Flow 4, the balance: charging it and reading it.
//!
//! DynamoDB round trips (the token guard's Redis script comes on top):
//! - reading a balance: 1, a consistent GetItem;
//! - a charge: 2. One BatchGetItem (consistent) reads the balance and the key's record; one
//!   TransactWriteItems writes the new balance (conditioned on the one read), the ledger entry
//!   and the key's record. The issue hoped for 1, but a transaction cannot return the balance
//!   it produced, and both the ledger entry (`balanceAfter`) and the answer need it, so it is
//!   read first and the write is conditioned on it;
//! - a replay of a keyed charge: 1, the BatchGetItem that finds the record;
//! - under contention, each charge that another one beat costs 1 more TransactWriteItems: the
//!   cancelled condition hands back the balance as it is now (ALL_OLD), so no new read. A key
//!   raced by a request with the same key costs at most 1 GetItem of its record.
//!
//! Nothing is lost or counted twice: the balance is written only under the condition that it
//! is still the balance the new one was computed from, in the transaction that writes its
//! ledger entry, and a keyed charge's record is written in that same transaction.

use std::future::Future;

use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::domain::{Amount, ChargeId, IdempotencyKey, UserId, Won};
use crate::error::{ApiError, StoreError};
use crate::http::views::BalanceView;
use crate::state::AppState;
use crate::store::balance::{TX_BALANCE, TX_IDEMPOTENCY};
use crate::store::dynamo::{from_item, retry_conflicts, TxError};
use crate::store::items::{BalanceItem, IdempotencyItem, IdempotencyScope, LedgerItem, LedgerKind};

/// How many times a charge recomputes and resubmits after other charges of the same user
/// committed first. DynamoDB Local runs transactions one at a time, so of N concurrent charges
/// the last may lose N - 1 times; in AWS they mostly meet as TransactionConflict instead.
pub const CHARGE_ATTEMPTS: u32 = 200;

/// `POST /users/{userId}/balance/charges` body. Its JSON is also the canonical form an
/// idempotency record compares.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ChargeRequest {
    pub amount: Amount,
}

/// An answer to give as it is: the first answer again, for a replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// A user's balance; 0 for a user who never charged. One consistent GetItem.
pub async fn get(state: &AppState, user: &UserId) -> Result<Won, ApiError> {
    Ok(state
        .db
        .balance(user)
        .await?
        .map_or(Won::ZERO, |item| item.balance))
}

/// Charges `request.amount` to the user's balance, once per Idempotency-Key when one is given.
pub async fn charge(
    state: &AppState,
    user: &UserId,
    request: &ChargeRequest,
    key: Option<&IdempotencyKey>,
) -> Result<Answer, ApiError> {
    const SCOPE: IdempotencyScope = IdempotencyScope::Charge;
    let canonical = serde_json::to_string(request)
        .map_err(|e| ApiError::Internal(StoreError::Unexpected(e.to_string())))?;

    // Round trip 1: the balance, and what the key already did.
    let read = state
        .db
        .balance_and_record(user, key.map(|k| (SCOPE, k)))
        .await?;
    if let Some(record) = read.idempotency {
        return replay(record, &canonical);
    }

    let charge_id = ChargeId::generate();
    let mut old = read.balance.map(|item| item.balance);
    for _ in 0..CHARGE_ATTEMPTS {
        let base = old.unwrap_or(Won::ZERO);
        let Some(new) = base.charged(request.amount) else {
            return Err(ApiError::BalanceLimitExceeded(format!(
                "charging {} would take the balance of {base} above {}",
                request.amount.won(),
                Won::BALANCE_LIMIT
            )));
        };
        let now = Utc::now();
        let body = serde_json::to_string(&BalanceView::new(user, new))
            .map_err(|e| ApiError::Internal(StoreError::Unexpected(e.to_string())))?;
        let balance = BalanceItem::new(user, new, now);
        let entry = LedgerItem::new(
            user,
            *charge_id.as_uuid(),
            LedgerKind::Charge,
            request.amount.won(),
            new,
            now,
        );
        let record = key.map(|k| {
            IdempotencyItem::new(user, SCOPE, k, canonical.clone(), 200, body.clone(), now)
        });

        // Round trip 2 (and one more per charge that got there first).
        let outcome = commit(|| {
            state
                .db
                .move_balance(old, &balance, &entry, record.as_ref())
        })
        .await?;
        match outcome {
            Outcome::Committed => return Ok(Answer { status: 200, body }),
            Outcome::BalanceMoved(Some(now_held)) => old = Some(now_held),
            Outcome::BalanceMoved(None) => {
                old = state.db.balance(user).await?.map(|item| item.balance);
            }
            Outcome::KeyTaken(image) => {
                let found = match image {
                    Some(record) => Some(record),
                    None => match key {
                        Some(k) => state.db.idempotency_record(user, SCOPE, k).await?,
                        None => None,
                    },
                };
                if let Some(record) = found {
                    return replay(record, &canonical);
                }
            }
        }
    }
    Err(ApiError::Unavailable(StoreError::Dynamo {
        operation: "TransactWriteItems",
        retryable: true,
        source: format!(
            "the balance of {user} kept moving: {CHARGE_ATTEMPTS} charge attempts lost the race"
        )
        .into(),
    }))
}

/// The first answer again for the same request; 422 for another request under the key.
pub(crate) fn replay(record: IdempotencyItem, canonical: &str) -> Result<Answer, ApiError> {
    if record.request == canonical {
        Ok(Answer {
            status: record.status,
            body: record.response,
        })
    } else {
        Err(ApiError::IdempotencyKeyReused)
    }
}

/// How a balance transaction ended, as the charge loop needs it.
#[derive(Debug)]
enum Outcome {
    Committed,
    /// Another charge moved the balance first; what it holds now, if the image came back.
    BalanceMoved(Option<Won>),
    /// A request with the same key committed first; its record, if the image came back.
    KeyTaken(Option<IdempotencyItem>),
}

/// Submits a balance transaction through [`retry_conflicts`] and says how it ended.
/// TransactionConflicts (AWS only) that outlast the retries are a 503, never a 500: nothing
/// was written, and the client may try again.
async fn commit<F, Fut>(transact: F) -> Result<Outcome, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), TxError>>,
{
    match retry_conflicts(transact).await {
        Ok(()) => Ok(Outcome::Committed),
        Err(e) => classify(e),
    }
}

fn classify(err: TxError) -> Result<Outcome, ApiError> {
    let reasons = match err {
        TxError::Store(e) => return Err(e.into()),
        TxError::Cancelled(ref reasons) => reasons,
    };
    // The key first: when a same-key request won, it also moved the balance.
    if let Some(reason) = reasons.get(TX_IDEMPOTENCY).filter(|r| r.condition_failed()) {
        let record = reason.old.clone().map(from_item).transpose()?;
        return Ok(Outcome::KeyTaken(record));
    }
    if let Some(reason) = reasons.get(TX_BALANCE).filter(|r| r.condition_failed()) {
        let now = reason
            .old
            .clone()
            .map(from_item::<BalanceItem>)
            .transpose()?;
        return Ok(Outcome::BalanceMoved(now.map(|item| item.balance)));
    }
    let operation = "TransactWriteItems";
    if err.is_conflict() {
        return Err(ApiError::Unavailable(StoreError::Dynamo {
            operation,
            retryable: true,
            source: Box::new(err),
        }));
    }
    Err(ApiError::Internal(StoreError::Dynamo {
        operation,
        retryable: false,
        source: Box::new(err),
    }))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::store::dynamo::{to_item, Reason, CONFLICT_ATTEMPTS};

    fn reason(code: &str) -> Reason {
        Reason {
            code: code.to_owned(),
            old: None,
        }
    }

    fn cancelled(codes: &[&str]) -> TxError {
        TxError::Cancelled(codes.iter().map(|c| reason(c)).collect())
    }

    fn user() -> UserId {
        UserId::parse("u-1").unwrap()
    }

    #[tokio::test]
    async fn a_transaction_conflict_that_outlasts_the_retries_answers_503_with_retry_after() {
        let tries = AtomicU32::new(0);
        let err = commit(|| {
            tries.fetch_add(1, Ordering::SeqCst);
            async { Err(cancelled(&["TransactionConflict", "None", "None"])) }
        })
        .await
        .expect_err("a conflict every time is refused");

        assert_eq!(tries.load(Ordering::SeqCst), CONFLICT_ATTEMPTS);
        assert!(matches!(err, ApiError::Unavailable(_)), "{err:?}");
        let response = crate::http::problem(&err);
        assert_eq!(response.status(), 503);
        assert!(response.headers().contains_key("retry-after"));
        assert_eq!(err.problem().code, "SERVICE_UNAVAILABLE");
    }

    #[tokio::test]
    async fn a_transaction_conflict_that_clears_is_retried_into_a_commit() {
        let tries = AtomicU32::new(0);
        let outcome = commit(|| {
            let n = tries.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < 2 {
                    Err(cancelled(&["None", "TransactionConflict"]))
                } else {
                    Ok(())
                }
            }
        })
        .await
        .unwrap();
        assert!(matches!(outcome, Outcome::Committed));
        assert_eq!(tries.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_failed_condition_is_an_answer_and_is_not_retried_as_a_conflict() {
        let tries = AtomicU32::new(0);
        let image = to_item(&BalanceItem::new(&user(), Won::new(42), Utc::now())).unwrap();
        let outcome = commit(|| {
            tries.fetch_add(1, Ordering::SeqCst);
            let image = image.clone();
            async move {
                Err(TxError::Cancelled(vec![
                    Reason {
                        code: "ConditionalCheckFailed".into(),
                        old: Some(image),
                    },
                    reason("TransactionConflict"),
                ]))
            }
        })
        .await
        .unwrap();
        assert_eq!(tries.load(Ordering::SeqCst), 1);
        assert!(matches!(outcome, Outcome::BalanceMoved(Some(w)) if w == Won::new(42)));
    }

    #[test]
    fn a_taken_key_wins_over_a_moved_balance() {
        let key = IdempotencyKey::parse("k-1").unwrap();
        let record = IdempotencyItem::new(
            &user(),
            IdempotencyScope::Charge,
            &key,
            r#"{"amount":5}"#.into(),
            200,
            r#"{"userId":"u-1","balance":5}"#.into(),
            Utc::now(),
        );
        let outcome = classify(TxError::Cancelled(vec![
            reason("ConditionalCheckFailed"),
            reason("None"),
            Reason {
                code: "ConditionalCheckFailed".into(),
                old: Some(to_item(&record).unwrap()),
            },
        ]))
        .unwrap();
        let Outcome::KeyTaken(Some(found)) = outcome else {
            panic!("expected the key's record, got {outcome:?}");
        };
        assert_eq!(
            replay(found.clone(), r#"{"amount":5}"#).unwrap(),
            Answer {
                status: 200,
                body: r#"{"userId":"u-1","balance":5}"#.into()
            }
        );
        assert!(matches!(
            replay(found, r#"{"amount":6}"#),
            Err(ApiError::IdempotencyKeyReused)
        ));
    }

    #[test]
    fn an_unexplained_cancellation_is_an_internal_error() {
        let err = classify(cancelled(&["None", "ValidationError"])).unwrap_err();
        assert_eq!(err.problem().status, 500);
    }

    #[test]
    fn a_store_failure_keeps_its_own_classification() {
        let err = classify(TxError::Store(StoreError::Timeout {
            store: "DynamoDB",
            after: std::time::Duration::from_millis(5),
        }))
        .unwrap_err();
        assert_eq!(err.problem().code, "SERVICE_UNAVAILABLE");
    }

    #[test]
    fn the_canonical_request_is_its_compact_json() {
        let request: ChargeRequest = serde_json::from_str(r#"{ "amount" : 5 }"#).unwrap();
        assert_eq!(serde_json::to_string(&request).unwrap(), r#"{"amount":5}"#);
    }
}
