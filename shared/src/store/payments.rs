//! DynamoDB I/O for payments: one read, one transaction.
//!
//! The transaction's items are always in this order, so a cancellation's reasons can be read
//! by position: [`PAY_BALANCE`], [`PAY_MARKER`], [`PAY_RESERVATION`], [`PAY_PAYMENT`],
//! [`PAY_LEDGER`], then [`PAY_IDEMPOTENCY`] when a key is recorded.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
    Update,
};

use crate::domain::{IdempotencyKey, ReservationId, UserId, Won};
use crate::error::StoreError;
use crate::store::dynamo::{built, from_item, key, n, s, sdk_error, to_item, Db, TxError};
use crate::store::items::{
    keys, BalanceItem, IdempotencyItem, IdempotencyScope, LedgerItem, PaymentItem, ReservationItem,
};

pub const PAY_BALANCE: usize = 0;
pub const PAY_MARKER: usize = 1;
pub const PAY_RESERVATION: usize = 2;
pub const PAY_PAYMENT: usize = 3;
pub const PAY_LEDGER: usize = 4;
pub const PAY_IDEMPOTENCY: usize = 5;

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
        Err(StoreError::Unexpected(
            "BatchGetItem kept leaving keys unprocessed".into(),
        ))
    }

    /// Everything a payment changes, or nothing: the balance (still `old`), the seat's marker
    /// HELD by this reservation and not expired becomes SOLD for good, the reservation goes
    /// HELD -> CONFIRMED, the payment (one per reservation, by key), the ledger entry, and the
    /// key's record.
    pub async fn commit_payment(&self, w: &PaymentWrite<'_>, now_ms: i64) -> Result<(), TxError> {
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
                .condition_expression(
                    "reservationId = :rid AND #status = :held AND expiresAt > :now",
                )
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
                .condition_expression("#status = :held AND expiresAt > :now")
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
        self.transact(items).await
    }
}
