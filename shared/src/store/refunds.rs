//! DynamoDB I/O for refunds: one read, one transaction that reads its own cancellation
//! ([`RefundOutcome`]).

use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};

use chrono::{DateTime, Utc};

use crate::domain::{IdempotencyKey, ReservationId, SeatNo, UserId, Won};
use crate::error::StoreError;
use crate::store::balance::ledger_proof;
use crate::store::dynamo::{built, from_item, key, retry_conflicts, s, sdk_error, Db, TxError};
use crate::store::items::{
    keys, BalanceItem, HoldItem, IdempotencyItem, IdempotencyScope, LedgerItem, PaymentItem,
    ReservationItem,
};
use crate::store::payments::ReservationRead;
use crate::store::seats::CountChange;

// The transaction's items, in this order; a cancellation's reasons are read by position:
// [balance, ledger entry, reservation, payment, marker × k, seat count?, key's record?].
const REFUND_BALANCE: usize = 0;
const REFUND_RESERVATION: usize = 2;
const REFUND_FIRST_MARKER: usize = 4;

/// Where a refund's items are, for a reservation of `seats` seats.
#[derive(Debug, Clone, Copy)]
struct RefundLayout {
    seats: usize,
    counted: bool,
    keyed: bool,
}

impl RefundLayout {
    fn markers(&self) -> std::ops::Range<usize> {
        REFUND_FIRST_MARKER..REFUND_FIRST_MARKER + self.seats
    }
    fn record(&self) -> Option<usize> {
        self.keyed
            .then_some(REFUND_RESERVATION + 2 + self.seats + usize::from(self.counted))
    }
    #[cfg(test)]
    fn len(&self) -> usize {
        REFUND_RESERVATION + 2 + self.seats + usize::from(self.counted) + usize::from(self.keyed)
    }
}

/// How a refund's transaction ended. Every outcome but `Committed` wrote nothing.
#[derive(Debug)]
pub enum RefundOutcome {
    Committed,
    /// Another write moved the balance first; what it holds now, if the image came back.
    BalanceMoved(Option<Won>),
    /// The reservation is not CONFIRMED (any more); as it is now, if the image came back.
    NotPaid(Option<ReservationItem>),
    /// A request with the same key committed first; its record, if the image came back.
    KeyTaken(Option<IdempotencyItem>),
    /// The door let a seat of it in (at `at`): a seat that was used is not refunded.
    CheckedIn {
        seat: SeatNo,
        at: DateTime<Utc>,
    },
}

fn refund_outcome(
    result: Result<(), TxError>,
    layout: RefundLayout,
) -> Result<RefundOutcome, StoreError> {
    let cancelled = match result {
        Ok(()) => return Ok(RefundOutcome::Committed),
        Err(TxError::Store(e)) => return Err(e),
        Err(TxError::Cancelled(c)) => c,
    };
    if let Some(image) = layout.record().and_then(|i| cancelled.condition_failed(i)) {
        return Ok(RefundOutcome::KeyTaken(
            image.cloned().map(from_item).transpose()?,
        ));
    }
    if let Some(image) = cancelled.condition_failed(REFUND_RESERVATION) {
        return Ok(RefundOutcome::NotPaid(
            image.cloned().map(from_item).transpose()?,
        ));
    }
    // Before the balance: a balance that moved is worth another try, a used seat is not.
    for index in layout.markers() {
        if let Some(Some(image)) = cancelled.condition_failed(index) {
            let marker: HoldItem = from_item(image.clone())?;
            if let Some(at) = marker.checked_in_at {
                return Ok(RefundOutcome::CheckedIn {
                    seat: marker.seat_no,
                    at,
                });
            }
        }
    }
    if let Some(image) = cancelled.condition_failed(REFUND_BALANCE) {
        let now = image.cloned().map(from_item::<BalanceItem>).transpose()?;
        return Ok(RefundOutcome::BalanceMoved(now.map(|b| b.balance)));
    }
    // The ledger entry is new by construction, and a CONFIRMED reservation's payment and SOLD
    // markers are its own (the markers' only other condition is the check-in, read above):
    // anything else is not ours to explain.
    Err(cancelled.into_store_error())
}

/// What one refund writes.
#[derive(Clone, Copy)]
pub struct RefundWrite<'a> {
    /// The balance it was computed from (`None`: no balance item).
    pub old: Option<Won>,
    pub balance: &'a BalanceItem,
    pub entry: &'a LedgerItem,
    pub reservation: &'a ReservationItem,
    pub record: Option<&'a IdempotencyItem>,
}

impl Db {
    /// The reservation and its payment, the buyer's balance and the key's record: one
    /// consistent BatchGetItem across both tables.
    pub async fn refund_read(
        &self,
        reservation: &ReservationId,
        user: &UserId,
        record: Option<&IdempotencyKey>,
    ) -> Result<ReservationRead, StoreError> {
        let record = record.map(|k| (IdempotencyScope::Refund, k));
        self.reservation_read(reservation, user, record, true).await
    }

    /// A reservation's payment: one consistent GetItem.
    pub async fn payment(&self, id: &ReservationId) -> Result<Option<PaymentItem>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.reservations)
            .set_key(Some(key(keys::reservation_pk(id), keys::PAYMENT_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", e))?;
        out.item.map(from_item).transpose()
    }

    /// Everything a refund changes, or nothing: the balance (still `old`) credited and its
    /// ledger entry, the reservation CONFIRMED -> REFUNDED, its payment REFUNDED, each seat's
    /// SOLD marker of this reservation deleted if the door has not let it in (a check-in and a
    /// refund of one seat: whichever commits first, the other's condition fails), the seats
    /// off the buyer's count, and the key's record. The reservation's condition makes it once
    /// per reservation. Conflicts with other writers are retried here.
    pub async fn commit_refund(
        &self,
        w: &RefundWrite<'_>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<RefundOutcome, StoreError> {
        let r = w.reservation;
        let at: AttributeValue = serde_dynamo::to_attribute_value(now)?;
        let refunded = built(
            Update::builder()
                .table_name(&self.reservations)
                .set_key(Some(key(
                    keys::reservation_pk(&r.reservation_id),
                    keys::RESERVATION_SK.to_owned(),
                )))
                .update_expression("SET #status = :refunded, refundedAt = :at")
                .condition_expression("#status = :confirmed")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":refunded", s("REFUNDED"))
                .expression_attribute_values(":confirmed", s("CONFIRMED"))
                .expression_attribute_values(":at", at.clone())
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .build(),
        )?;
        let payment = built(
            Update::builder()
                .table_name(&self.reservations)
                .set_key(Some(key(
                    keys::reservation_pk(&r.reservation_id),
                    keys::PAYMENT_SK.to_owned(),
                )))
                .update_expression(
                    "SET #status = :refunded, refundedAt = :at, balanceAfterRefund = :after",
                )
                .condition_expression("attribute_exists(PK)")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":refunded", s("REFUNDED"))
                .expression_attribute_values(":at", at)
                .expression_attribute_values(
                    ":after",
                    serde_dynamo::to_attribute_value(w.balance.balance)?,
                )
                .build(),
        )?;
        let mut items = vec![
            self.balance_write(w.old, w.balance)?,
            self.put_new(w.entry)?,
            TransactWriteItem::builder().update(refunded).build(),
            TransactWriteItem::builder().update(payment).build(),
        ];
        for seat in r.seats() {
            let delete = built(
                Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(
                        keys::seats_pk(&r.concert_id, &r.date),
                        keys::hold_sk(seat),
                    )))
                    .condition_expression(
                        "reservationId = :rid AND #status = :sold AND attribute_not_exists(#in)",
                    )
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_names("#in", HoldItem::CHECKED_IN_AT)
                    .expression_attribute_values(":rid", s(r.reservation_id.to_string()))
                    .expression_attribute_values(":sold", s("SOLD"))
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .build(),
            )?;
            items.push(TransactWriteItem::builder().delete(delete).build());
        }
        let layout = RefundLayout {
            seats: r.seats().len(),
            counted: r.counted(),
            keyed: w.record.is_some(),
        };
        if layout.counted {
            items.push(self.count_update(
                &r.user_id,
                &r.concert_id,
                CountChange::Refunded { k: layout.seats },
            )?);
        }
        if let Some(record) = w.record {
            items.push(self.put_new(record)?);
        }
        let proof = ledger_proof(self, w.entry);
        refund_outcome(
            retry_conflicts(|| self.transact(items.clone(), Some(&proof))).await,
            layout,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::dynamo::testing::{cancelled_at, cancelled_with, each_code};
    use crate::store::dynamo::to_item;
    use crate::store::items::HoldStatus;

    #[test]
    fn a_refund_of_a_seat_the_door_let_in_reads_as_checked_in() {
        let layout = RefundLayout {
            seats: 3,
            counted: true,
            keyed: false,
        };
        let r = ReservationItem::held_seats(
            ReservationId::generate(),
            &UserId::parse("u").unwrap(),
            &crate::domain::ConcertId::parse("c").unwrap(),
            crate::domain::ConcertDate::parse("2026-12-24").unwrap(),
            &[
                SeatNo::new(4).unwrap(),
                SeatNo::new(5).unwrap(),
                SeatNo::new(6).unwrap(),
            ],
            Won::new(3),
            Utc::now(),
            Utc::now(),
        );
        let at = Utc::now();
        let mut marker = HoldItem::held_seat(&r, SeatNo::new(5).unwrap());
        marker.status = HoldStatus::Sold;
        marker.checked_in_at = Some(at);
        let image = to_item(&marker).unwrap();
        let outcome = refund_outcome(
            cancelled_with(
                layout.len(),
                REFUND_FIRST_MARKER + 1,
                "ConditionalCheckFailed",
                Some(image),
            ),
            layout,
        )
        .unwrap();
        assert_eq!(
            format!("{outcome:?}"),
            format!(
                "{:?}",
                RefundOutcome::CheckedIn {
                    seat: SeatNo::new(5).unwrap(),
                    at
                }
            )
        );
    }

    #[test]
    fn a_refund_reads_every_reason_code_at_every_item() {
        for seats in [1, 3] {
            for counted in [false, true] {
                for keyed in [false, true] {
                    let layout = RefundLayout {
                        seats,
                        counted,
                        keyed,
                    };
                    for index in 0..layout.len() {
                        for code in each_code() {
                            let outcome =
                                refund_outcome(cancelled_at(layout.len(), index, code), layout);
                            let what = format!("{layout:?} at {index}: {code}");
                            if code == "ConditionalCheckFailed" {
                                let expected = match index {
                                    REFUND_BALANCE => "BalanceMoved(None)",
                                    REFUND_RESERVATION => "NotPaid(None)",
                                    i if Some(i) == layout.record() => "KeyTaken(None)",
                                    _ => {
                                        assert!(!outcome.unwrap_err().is_transient(), "{what}");
                                        continue;
                                    }
                                };
                                assert_eq!(format!("{:?}", outcome.unwrap()), expected, "{what}");
                                continue;
                            }
                            let transient = matches!(
                                code,
                                "TransactionConflict"
                                    | "ThrottlingError"
                                    | "ProvisionedThroughputExceeded"
                                    | "RequestLimitExceeded"
                            );
                            assert_eq!(
                                outcome.expect_err(code).is_transient(),
                                transient,
                                "{what}"
                            );
                        }
                    }
                }
            }
        }
    }
}
