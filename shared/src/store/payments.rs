//! DynamoDB I/O for payments: one read, one transaction that reads its own cancellation
//! ([`PaymentOutcome`]).

use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};

use crate::domain::{IdempotencyKey, ReservationId, UserId, Won};
use crate::error::StoreError;
use crate::store::balance::ledger_proof;
use crate::store::dynamo::{built, from_item, key, n, retry_conflicts, s, to_item, Db, TxError};
use crate::store::items::{
    keys, BalanceItem, HoldItem, IdempotencyItem, IdempotencyScope, LedgerItem, PaymentItem,
    ReservationItem, SeatCountItem,
};
use crate::store::seats::CountChange;

// The transaction's items, in this order; a cancellation's reasons are read by position:
// [balance, marker × k, reservation, payment, ledger entry, seat count?, key's record?].
const PAY_BALANCE: usize = 0;
const PAY_MARKER: usize = 1;

/// Where a payment's items are, for a reservation of `seats` seats.
#[derive(Debug, Clone, Copy)]
struct PayLayout {
    seats: usize,
    counted: bool,
    keyed: bool,
}

impl PayLayout {
    fn reservation(&self) -> usize {
        PAY_MARKER + self.seats
    }
    fn payment(&self) -> usize {
        self.reservation() + 1
    }
    fn ledger(&self) -> usize {
        self.payment() + 1
    }
    fn record(&self) -> Option<usize> {
        self.keyed
            .then_some(self.ledger() + 1 + usize::from(self.counted))
    }
    fn len(&self) -> usize {
        self.ledger() + 1 + usize::from(self.counted) + usize::from(self.keyed)
    }
}

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
fn payment_outcome(
    result: Result<(), TxError>,
    layout: PayLayout,
) -> Result<PaymentOutcome, StoreError> {
    let cancelled = match result {
        Ok(()) => return Ok(PaymentOutcome::Committed),
        Err(TxError::Store(e)) => return Err(e),
        Err(TxError::Cancelled(c)) => c,
    };
    if let Some(image) = layout.record().and_then(|i| cancelled.condition_failed(i)) {
        return Ok(PaymentOutcome::KeyTaken(
            image.cloned().map(from_item).transpose()?,
        ));
    }
    if cancelled.condition_failed(layout.payment()).is_some() {
        return Ok(PaymentOutcome::AlreadyPaid);
    }
    let reservation = cancelled.condition_failed(layout.reservation());
    let marker = (0..layout.seats).any(|i| cancelled.condition_failed(PAY_MARKER + i).is_some());
    if reservation.is_some() || marker {
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

/// What a payment's or a refund's one read found.
#[derive(Debug, Default)]
pub struct ReservationRead {
    pub reservation: Option<ReservationItem>,
    /// Asked for by a refund only.
    pub payment: Option<PaymentItem>,
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
    ) -> Result<ReservationRead, StoreError> {
        let record = record.map(|k| (IdempotencyScope::Payment, k));
        self.reservation_read(reservation, user, record, false)
            .await
    }

    /// The reservation (and its payment, when `with_payment`), the user's balance and the
    /// key's record: one consistent BatchGetItem across both tables.
    pub(crate) async fn reservation_read(
        &self,
        reservation: &ReservationId,
        user: &UserId,
        record: Option<(IdempotencyScope, &IdempotencyKey)>,
        with_payment: bool,
    ) -> Result<ReservationRead, StoreError> {
        let mut main = vec![key(keys::user_pk(user), keys::BALANCE_SK.to_owned())];
        if let Some((scope, k)) = record {
            main.push(key(keys::user_pk(user), keys::idempotency_sk(scope, k)));
        }
        let mut wanted = vec![key(
            keys::reservation_pk(reservation),
            keys::RESERVATION_SK.to_owned(),
        )];
        if with_payment {
            wanted.push(key(
                keys::reservation_pk(reservation),
                keys::PAYMENT_SK.to_owned(),
            ));
        }
        let mut read = ReservationRead::default();
        for item in self.read_consistent(main, wanted).await? {
            match item.get("SK") {
                Some(AttributeValue::S(sk)) if sk == keys::BALANCE_SK => {
                    read.balance = Some(from_item(item)?)
                }
                Some(AttributeValue::S(sk)) if sk == keys::RESERVATION_SK => {
                    read.reservation = Some(from_item(item)?)
                }
                Some(AttributeValue::S(sk)) if sk == keys::PAYMENT_SK => {
                    read.payment = Some(from_item(item)?)
                }
                _ => read.idempotency = Some(from_item(item)?),
            }
        }
        Ok(read)
    }

    /// Everything a payment changes, or nothing: the balance (still `old`), each seat's marker
    /// HELD by this reservation and not expired becomes SOLD for good, the hold leaves the
    /// buyer's seat count's live holds (its seats stay counted), the reservation goes
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
        let mut markers = Vec::new();
        for seat in reservation.seats() {
            let marker = built(
                Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(
                        keys::seats_pk(&reservation.concert_id, &reservation.date),
                        keys::hold_sk(seat),
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
            markers.push(TransactWriteItem::builder().update(marker).build());
        }
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
        let layout = PayLayout {
            seats: markers.len(),
            counted: reservation.counted(),
            keyed: record.is_some(),
        };
        let mut items = vec![self.balance_write(Some(old), balance)?];
        items.extend(markers);
        items.extend([
            TransactWriteItem::builder().update(confirm).build(),
            TransactWriteItem::builder().put(paid).build(),
            self.put_new(entry)?,
        ]);
        if layout.counted {
            // Its seats stay counted (sold); the hold leaves the count's live holds.
            items.push(self.count_update(
                &reservation.user_id,
                &reservation.concert_id,
                CountChange::Sold {
                    entry: SeatCountItem::entry(reservation),
                },
            )?);
        }
        if let Some(record) = record {
            items.push(self.put_new(record)?);
        }
        debug_assert_eq!(items.len(), layout.len());
        let proof = ledger_proof(self, entry);
        payment_outcome(
            retry_conflicts(|| self.transact(items.clone(), Some(&proof))).await,
            layout,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::dynamo::testing::{cancelled_at, each_code};

    #[test]
    fn a_payment_reads_every_reason_code_at_every_item() {
        for seats in [1, 3] {
            for counted in [false, true] {
                for keyed in [false, true] {
                    let layout = PayLayout {
                        seats,
                        counted,
                        keyed,
                    };
                    for index in 0..layout.len() {
                        for code in each_code() {
                            let outcome =
                                payment_outcome(cancelled_at(layout.len(), index, code), layout);
                            let what = format!("{layout:?} at {index}: {code}");
                            if code == "ConditionalCheckFailed" {
                                let expected = if index == PAY_BALANCE {
                                    "BalanceMoved(None)"
                                } else if index < layout.payment() {
                                    "NotHeld(None)"
                                } else if index == layout.payment() {
                                    "AlreadyPaid"
                                } else if Some(index) == layout.record() {
                                    "KeyTaken(None)"
                                } else {
                                    // The ledger entry's key is new by construction, and the
                                    // count has no condition: our bug.
                                    assert!(!outcome.unwrap_err().is_transient(), "{what}");
                                    continue;
                                };
                                assert_eq!(format!("{:?}", outcome.unwrap()), expected, "{what}");
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
                            assert_eq!(err.is_transient(), transient, "{what}");
                        }
                    }
                }
            }
        }
    }
}
