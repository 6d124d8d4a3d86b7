//! DynamoDB I/O for balances, their ledger and idempotency records. One round trip per call.
//!
//! A balance moves only in a TransactWriteItems that also writes its ledger entry, under an
//! optimistic condition on the balance that was read. [`Db::move_balance`] reads its own
//! cancellation and answers a [`BalanceOutcome`].

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use serde::Serialize;

use crate::domain::{IdempotencyKey, UserId, Won};
use crate::error::StoreError;
use crate::store::dynamo::{
    from_item, key, retry_conflicts, sdk_error, to_item, Db, Item, Proof, TxError,
};
use crate::store::items::{keys, BalanceItem, IdempotencyItem, IdempotencyScope, LedgerItem};

// The transaction's items, in this order; a cancellation's reasons are read by position.
const TX_BALANCE: usize = 0;
const TX_IDEMPOTENCY: usize = 2;

/// How a balance transaction ended.
#[derive(Debug)]
pub enum BalanceOutcome {
    Committed,
    /// Another charge or payment moved the balance first; what it holds now, if the image
    /// came back. Nothing was written.
    BalanceMoved(Option<Won>),
    /// A request with the same key committed first; its record, if the image came back.
    /// Nothing was written.
    KeyTaken(Option<IdempotencyItem>),
}

/// A balance's ledger entry proves the transaction that wrote it committed.
pub(crate) fn ledger_proof(db: &Db, entry: &LedgerItem) -> Proof {
    Proof {
        table: db.table.clone(),
        key: key(entry.pk.clone(), entry.sk.clone()),
    }
}

/// Reads a balance transaction: [balance, ledger entry, key's record].
fn balance_outcome(result: Result<(), TxError>) -> Result<BalanceOutcome, StoreError> {
    let cancelled = match result {
        Ok(()) => return Ok(BalanceOutcome::Committed),
        Err(TxError::Store(e)) => return Err(e),
        Err(TxError::Cancelled(c)) => c,
    };
    // The key first: when a same-key request won, it also moved the balance.
    if let Some(image) = cancelled.condition_failed(TX_IDEMPOTENCY) {
        let record = image.cloned().map(from_item).transpose()?;
        return Ok(BalanceOutcome::KeyTaken(record));
    }
    if let Some(image) = cancelled.condition_failed(TX_BALANCE) {
        let now = image.cloned().map(from_item::<BalanceItem>).transpose()?;
        return Ok(BalanceOutcome::BalanceMoved(now.map(|item| item.balance)));
    }
    Err(cancelled.into_store_error())
}

/// What the first round trip of a charge found.
#[derive(Debug, Clone, Default)]
pub struct BalanceRead {
    /// `None`: never charged.
    pub balance: Option<BalanceItem>,
    pub idempotency: Option<IdempotencyItem>,
}

fn attribute<T: Serialize>(value: &T) -> Result<AttributeValue, StoreError> {
    Ok(serde_dynamo::to_attribute_value(value)?)
}

impl Db {
    async fn get_item(&self, key: Item) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", e))?;
        Ok(out.item)
    }

    /// A user's balance item, `None` if they never charged: one consistent GetItem.
    pub async fn balance(&self, user: &UserId) -> Result<Option<BalanceItem>, StoreError> {
        self.get_item(key(keys::user_pk(user), keys::BALANCE_SK.to_owned()))
            .await?
            .map(from_item)
            .transpose()
    }

    /// An idempotency record: one consistent GetItem.
    pub async fn idempotency_record(
        &self,
        user: &UserId,
        scope: IdempotencyScope,
        idem: &IdempotencyKey,
    ) -> Result<Option<IdempotencyItem>, StoreError> {
        self.get_item(key(keys::user_pk(user), keys::idempotency_sk(scope, idem)))
            .await?
            .map(from_item)
            .transpose()
    }

    /// The balance and, when a key is given, its record: one consistent BatchGetItem.
    pub async fn balance_and_record(
        &self,
        user: &UserId,
        record: Option<(IdempotencyScope, &IdempotencyKey)>,
    ) -> Result<BalanceRead, StoreError> {
        let mut wanted = vec![key(keys::user_pk(user), keys::BALANCE_SK.to_owned())];
        if let Some((scope, idem)) = record {
            wanted.push(key(keys::user_pk(user), keys::idempotency_sk(scope, idem)));
        }
        let mut read = BalanceRead::default();
        for item in self.read_consistent(wanted, Vec::new()).await? {
            match item.get("SK") {
                Some(AttributeValue::S(sk)) if sk == keys::BALANCE_SK => {
                    read.balance = Some(from_item(item)?);
                }
                _ => read.idempotency = Some(from_item(item)?),
            }
        }
        Ok(read)
    }

    /// Moves a balance: one TransactWriteItems of, in this order, the balance (conditioned on
    /// still being `old`, or on not existing when `old` is `None`), the ledger entry, and the
    /// idempotency record (conditioned on not existing). A failed condition comes back with
    /// the item as it was (ALL_OLD), so the caller needs no read to learn what beat it.
    /// Conflicts with other writers are retried here.
    pub async fn move_balance(
        &self,
        old: Option<Won>,
        new: &BalanceItem,
        entry: &LedgerItem,
        record: Option<&IdempotencyItem>,
    ) -> Result<BalanceOutcome, StoreError> {
        let mut items = vec![self.balance_write(old, new)?, self.put_new(entry)?];
        if let Some(record) = record {
            items.push(self.put_new(record)?);
        }
        let proof = ledger_proof(self, entry);
        balance_outcome(retry_conflicts(|| self.transact(items.clone(), Some(&proof))).await)
    }

    /// An Update that writes every attribute of `new`, under the optimistic condition on
    /// `old`. (An Update rather than a Put, so attributes other writers add would survive.)
    pub fn balance_write(
        &self,
        old: Option<Won>,
        new: &BalanceItem,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut attributes: Vec<(String, AttributeValue)> = to_item(new)?.into_iter().collect();
        attributes.sort_by(|a, b| a.0.cmp(&b.0));
        let mut item_key = Item::new();
        let mut names = HashMap::new();
        let mut values = HashMap::new();
        let mut sets = Vec::new();
        for (name, value) in attributes {
            if name == "PK" || name == "SK" {
                item_key.insert(name, value);
                continue;
            }
            let i = sets.len();
            sets.push(format!("#a{i} = :a{i}"));
            names.insert(format!("#a{i}"), name);
            values.insert(format!(":a{i}"), value);
        }
        let condition = match old {
            None => "attribute_not_exists(PK)",
            Some(old) => {
                names.insert("#old".to_owned(), BalanceItem::BALANCE_ATTRIBUTE.to_owned());
                values.insert(":old".to_owned(), attribute(&old)?);
                "#old = :old"
            }
        };
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(item_key))
            .update_expression(format!("SET {}", sets.join(", ")))
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(StoreError::from)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// A Put of an item that must not exist yet; on a failed condition the existing item comes
    /// back (ALL_OLD).
    pub fn put_new<T: Serialize>(&self, item: &T) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(item)?))
            .condition_expression("attribute_not_exists(PK)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(StoreError::from)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::domain::IdempotencyKey;
    use crate::store::dynamo::testing::{cancelled_at, cancelled_with, each_code};

    fn user() -> UserId {
        UserId::parse("u-1").unwrap()
    }

    fn transient_code(code: &str) -> bool {
        matches!(
            code,
            "TransactionConflict"
                | "ThrottlingError"
                | "ProvisionedThroughputExceeded"
                | "RequestLimitExceeded"
        )
    }

    #[test]
    fn a_balance_write_reads_every_reason_code_at_every_item() {
        for index in 0..3 {
            for code in each_code() {
                let outcome = balance_outcome(cancelled_at(3, index, code));
                match (index, code) {
                    (TX_BALANCE, "ConditionalCheckFailed") => {
                        assert!(matches!(outcome, Ok(BalanceOutcome::BalanceMoved(None))))
                    }
                    (TX_IDEMPOTENCY, "ConditionalCheckFailed") => {
                        assert!(matches!(outcome, Ok(BalanceOutcome::KeyTaken(None))))
                    }
                    (_, code) => {
                        let err = outcome.expect_err(code);
                        assert_eq!(err.is_transient(), transient_code(code), "{index} {code}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_moved_balance_comes_back_with_what_it_holds_now() {
        let image = to_item(&BalanceItem::new(&user(), Won::new(42), Utc::now())).unwrap();
        let outcome = balance_outcome(cancelled_with(
            3,
            TX_BALANCE,
            "ConditionalCheckFailed",
            Some(image),
        ));
        assert!(matches!(outcome, Ok(BalanceOutcome::BalanceMoved(Some(w))) if w == Won::new(42)));
    }

    #[test]
    fn a_taken_key_wins_over_a_moved_balance() {
        let key = IdempotencyKey::parse("k-1").unwrap();
        let record = IdempotencyItem::new(
            &user(),
            IdempotencyScope::Charge,
            &key,
            r#"{"amount":5}"#.into(),
            r#"{"userId":"u-1","balance":5}"#.into(),
            Utc::now(),
        );
        let err = TxError::Cancelled(crate::store::dynamo::Cancelled(vec![
            crate::store::dynamo::Reason::new("ConditionalCheckFailed", None),
            crate::store::dynamo::Reason::new("None", None),
            crate::store::dynamo::Reason::new(
                "ConditionalCheckFailed",
                Some(to_item(&record).unwrap()),
            ),
        ]));
        let outcome = balance_outcome(Err(err)).unwrap();
        assert!(
            matches!(outcome, BalanceOutcome::KeyTaken(Some(r)) if r.request == record.request)
        );
    }
}
