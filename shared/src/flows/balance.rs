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

use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::domain::{Amount, ChargeId, IdempotencyKey, UserId, Won};
use crate::error::{ApiError, StoreError};
use crate::flows::idempotency::Keyed;
use crate::state::AppState;
use crate::store::balance::BalanceOutcome;
use crate::store::items::{BalanceItem, IdempotencyScope, LedgerItem, LedgerKind};

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

/// A user's balance after a charge; also what a keyed charge's record keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Charged {
    pub user_id: UserId,
    pub balance: Won,
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
) -> Result<Charged, ApiError> {
    let keyed = Keyed::new(user, IdempotencyScope::Charge, key, request)?;

    // Round trip 1: the balance, and what the key already did.
    let read = state
        .db
        .balance_and_record(user, keyed.as_ref().map(|k| (k.scope, k.key)))
        .await?;
    if let (Some(record), Some(keyed)) = (read.idempotency, &keyed) {
        return keyed.replay(record);
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
        let charged = Charged {
            user_id: user.clone(),
            balance: new,
        };
        let balance = BalanceItem::new(user, new, now);
        let entry = LedgerItem::new(
            user,
            *charge_id.as_uuid(),
            LedgerKind::Charge,
            request.amount.won(),
            new,
            now,
        );
        let record = keyed
            .as_ref()
            .map(|k| k.record(&charged, now))
            .transpose()?;

        // Round trip 2 (and one more per charge that got there first).
        match state
            .db
            .move_balance(old, &balance, &entry, record.as_ref())
            .await?
        {
            BalanceOutcome::Committed => return Ok(charged),
            BalanceOutcome::BalanceMoved(Some(now_held)) => old = Some(now_held),
            BalanceOutcome::BalanceMoved(None) => {
                old = state.db.balance(user).await?.map(|item| item.balance);
            }
            BalanceOutcome::KeyTaken(image) => {
                if let Some(keyed) = &keyed {
                    if let Some(first) = keyed.replay_winner(state, image).await? {
                        return Ok(first);
                    }
                }
            }
        }
    }
    Err(StoreError::Contended(format!(
        "the balance of {user} kept moving: {CHARGE_ATTEMPTS} charge attempts lost the race"
    ))
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_canonical_request_is_its_compact_json() {
        let request: ChargeRequest = serde_json::from_str(r#"{ "amount" : 5 }"#).unwrap();
        assert_eq!(serde_json::to_string(&request).unwrap(), r#"{"amount":5}"#);
    }

    #[test]
    fn a_charge_result_reads_a_record_written_before_results_were_typed() {
        let stored = r#"{"userId":"u-1","balance":5}"#;
        let charged: Charged = serde_json::from_str(stored).unwrap();
        assert_eq!(charged.balance, Won::new(5));
    }

    #[test]
    fn a_charge_that_keeps_losing_the_race_is_503() {
        let err: ApiError = StoreError::Contended("kept moving".into()).into();
        assert_eq!(err.problem().status, 503);
    }
}
