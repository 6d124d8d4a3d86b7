//! DynamoDB I/O for payments: one read, one transaction that reads its own cancellation
//! ([`PaymentOutcome`]).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
    Update,
};

use crate::domain::{IdempotencyKey, ReservationId, UserId, Won};
use crate::error::StoreError;
use crate::store::balance::ledger_proof;
use crate::store::dynamo::{
    built, from_item, key, n, retry_conflicts, s, sdk_error, to_item, Db, TxError,
};
use crate::store::items::{
    keys, BalanceItem, HoldItem, IdempotencyItem, IdempotencyScope, LedgerItem, PaymentItem,
    ReservationItem,
};

// The transaction's items, in this order; a cancellation's reasons are read by position.
const PAY_BALANCE: usize = 0;
const PAY_MARKER: usize = 1;
const PAY_RESERVATION: usize = 2;
const PAY_PAYMENT: usize = 3;
const PAY_IDEMPOTENCY: usize = 5;

/// How a payment's transaction ended. Every outcome but `Committed` wrote nothing.
#[derive(Debug)]
pub enum PaymentOutcome {
    Committed,
    /// A request with the same key committed first; its record, if the image came back.
    KeyTaken(Option<IdempotencyItem>),
    /// The reservation has its payment already.
    AlreadyPaid,
    /// The reservation or its seat's marker is no longer this live hold; the reservation as it
    /// is now, if the image came back.
    NotHeld(Option<ReservationItem>),
    /// Another payment or charge moved the balance first; what it holds now, if it came back.
    BalanceMoved(Option<Won>),
}

/// Reads a payment's transaction, in the order of the items above.
fn payment_outcome(result: Result<(), TxError>) -> Result<PaymentOutcome, StoreError> {
    let cancelled = match result {
        Ok(()) => return Ok(PaymentOutcome::Committed),
        Err(TxError::Store(e)) => return Err(e),
        Err(TxError::Cancelled(c)) => c,
    };
    if let Some(image) = cancelled.condition_failed(PAY_IDEMPOTENCY) {
        return Ok(PaymentOutcome::KeyTaken(
            image.cloned().map(from_item).transpose()?,
        ));
    }
    if cancelled.condition_failed(PAY_PAYMENT).is_some() {
        return Ok(PaymentOutcome::AlreadyPaid);
    }
    let reservation = cancelled.condition_failed(PAY_RESERVATION);
    if reservation.is_some() || cancelled.condition_failed(PAY_MARKER).is_some() {
        let now_is = reservation
            .flatten()
            .cloned()
            .map(from_item::<ReservationItem>)
            .transpose()?;
        return Ok(PaymentOutcome::NotHeld(now_is));
    }
    if let Some(image) = cancelled.condition_failed(PAY_BALANCE) {
        let now_held = image.cloned().map(from_item::<BalanceItem>).transpose()?;
        return Ok(PaymentOutcome::BalanceMoved(now_held.map(|b| b.balance)));
    }
    Err(cancelled.into_store_error())
}

/// What the payment's one read found.
#[derive(Debug, Default)]
pub struct PaymentRead {
    pub reservation: Option<ReservationItem>,
    pub balance: Option<BalanceItem>,
    pub idempotency: Option<IdempotencyItem>,
}

/// What one payment writes.
#[derive(Clone, Copy)]
pub struct PaymentWrite<'a> {
    /// The balance it was computed from: the write holds only if it is still that.
    pub old: Won,
    pub balance: &'a BalanceItem,
    pub reservation: &'a ReservationItem,
    pub payment: &'a PaymentItem,
    pub entry: &'a LedgerItem,
    pub record: Option<&'a IdempotencyItem>,
}

impl Db {
    /// The reservation, the payer's balance and the key's record: one consistent
    /// BatchGetItem across both tables.
    pub async fn payment_read(
        &self,
        reservation: &ReservationId,
        user: &UserId,
        record: Option<&IdempotencyKey>,
    ) -> Result<PaymentRead, StoreError> {
        let mut main = vec![key(keys::user_pk(user), keys::BALANCE_SK.to_owned())];
        if let Some(k) = record {
            main.push(key(
                keys::user_pk(user),
                keys::idempotency_sk(IdempotencyScope::Payment, k),
            ));
        }
        let mut request = HashMap::from([
            (
                self.table.clone(),
                built(
                    KeysAndAttributes::builder()
                        .set_keys(Some(main))
                        .consistent_read(true)
                        .build(),
                )?,
            ),
            (
                self.reservations.clone(),
                built(
                    KeysAndAttributes::builder()
                        .keys(key(
                            keys::reservation_pk(reservation),
                            keys::RESERVATION_SK.to_owned(),
                        ))
                        .consistent_read(true)
                        .build(),
                )?,
            ),
        ]);
        let mut read = PaymentRead::default();
        for attempt in 0..4u32 {
            let out = self
                .client
                .batch_get_item()
                .set_request_items(Some(request))
                .send()
                .await
                .map_err(|e| sdk_error("BatchGetItem", e))?;
            for (_, items) in out.responses.unwrap_or_default() {
                for item in items {
                    match item.get("SK") {
                        Some(AttributeValue::S(sk)) if sk == keys::BALANCE_SK => {
                            read.balance = Some(from_item(item)?)
                        }
                        Some(AttributeValue::S(sk)) if sk == keys::RESERVATION_SK => {
                            read.reservation = Some(from_item(item)?)
                        }
                        _ => read.idempotency = Some(from_item(item)?),
                    }
                }
            }
            match out.unprocessed_keys {
                Some(rest) if !rest.is_empty() => request = rest,
                _ => return Ok(read),
            }
            tokio::time::sleep(std::time::Duration::from_millis(25 << attempt)).await;
        }
        Err(StoreError::Contended(
            "BatchGetItem kept leaving keys unprocessed".into(),
        ))
    }

    /// Everything a payment changes, or nothing: the balance (still `old`), the seat's marker
    /// HELD by this reservation and not expired becomes SOLD for good, the reservation goes
    /// HELD -> CONFIRMED, the payment (one per reservation, by key), the ledger entry, and the
    /// key's record.
    /// Conflicts with other writers are retried here.
    pub async fn commit_payment(
        &self,
        w: &PaymentWrite<'_>,
        now_ms: i64,
    ) -> Result<PaymentOutcome, StoreError> {
        let PaymentWrite {
            old,
            balance,
            reservation,
            payment,
            entry,
            record,
        } = *w;
        let rid = reservation.reservation_id.to_string();
        let marker = built(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(key(
                    keys::seats_pk(&reservation.concert_id, &reservation.date),
                    keys::hold_sk(reservation.seat_no),
                )))
                .update_expression("SET #status = :sold REMOVE #ttl, expiresAt")
                .condition_expression(format!(
                    "reservationId = :rid AND #status = :held AND {}",
                    HoldItem::LIVE_AT_NOW
                ))
                .expression_attribute_names("#status", "status")
                .expression_attribute_names("#ttl", "ttl")
                .expression_attribute_values(":sold", s("SOLD"))
                .expression_attribute_values(":held", s("HELD"))
                .expression_attribute_values(":rid", s(rid.clone()))
                .expression_attribute_values(":now", n(now_ms))
                .build(),
        )?;
        let confirm = built(
            Update::builder()
                .table_name(&self.reservations)
                .set_key(Some(key(
                    keys::reservation_pk(&reservation.reservation_id),
                    keys::RESERVATION_SK.to_owned(),
                )))
                .update_expression(
                    "SET #status = :confirmed, paymentId = :pid, paidAt = :at REMOVE heldShard",
                )
                .condition_expression(format!("#status = :held AND {}", HoldItem::LIVE_AT_NOW))
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":confirmed", s("CONFIRMED"))
                .expression_attribute_values(":held", s("HELD"))
                .expression_attribute_values(":pid", s(payment.payment_id.to_string()))
                .expression_attribute_values(
                    ":at",
                    serde_dynamo::to_attribute_value(payment.paid_at).map_err(StoreError::from)?,
                )
                .expression_attribute_values(":now", n(now_ms))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .build(),
        )?;
        let paid = built(
            Put::builder()
                .table_name(&self.reservations)
                .set_item(Some(to_item(payment)?))
                .condition_expression("attribute_not_exists(PK)")
                .build(),
        )?;
        let mut items = vec![
            self.balance_write(Some(old), balance)?,
            TransactWriteItem::builder().update(marker).build(),
            TransactWriteItem::builder().update(confirm).build(),
            TransactWriteItem::builder().put(paid).build(),
            self.put_new(entry)?,
        ];
        if let Some(record) = record {
            items.push(self.put_new(record)?);
        }
        let proof = ledger_proof(self, entry);
        payment_outcome(retry_conflicts(|| self.transact(items.clone(), Some(&proof))).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::dynamo::testing::{cancelled_at, each_code};

    #[test]
    fn a_payment_reads_every_reason_code_at_every_item() {
        for index in 0..6 {
            for code in each_code() {
                let outcome = payment_outcome(cancelled_at(6, index, code));
                if code == "ConditionalCheckFailed" {
                    let expected = match index {
                        PAY_BALANCE => "BalanceMoved(None)",
                        PAY_MARKER | PAY_RESERVATION => "NotHeld(None)",
                        PAY_PAYMENT => "AlreadyPaid",
                        PAY_IDEMPOTENCY => "KeyTaken(None)",
                        // The ledger entry's key is new by construction: our bug.
                        _ => {
                            assert!(!outcome.unwrap_err().is_transient());
                            continue;
                        }
                    };
                    assert_eq!(format!("{:?}", outcome.unwrap()), expected, "{index}");
                    continue;
                }
                let err = outcome.expect_err(code);
                let transient = matches!(
                    code,
                    "TransactionConflict"
                        | "ThrottlingError"
                        | "ProvisionedThroughputExceeded"
                        | "RequestLimitExceeded"
                );
                assert_eq!(err.is_transient(), transient, "{index} {code}");
            }
        }
    }
}
