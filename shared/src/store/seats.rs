//! DynamoDB I/O for the catalog, holds and reservations. One round trip per call.

use aws_sdk_dynamodb::types::{
    Delete, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};

use crate::domain::{ConcertDate, ConcertId, ReservationId, SeatNo};
use crate::error::StoreError;
use crate::store::dynamo::{
    from_item, key, n, retry_conflicts, s, sdk_error, to_item, Db, Proof, TxError,
};
use crate::store::items::{keys, DateItem, HoldItem, ReservationItem};
use crate::store::schema::HELD_BY_EXPIRY_INDEX;

/// A reservation's hold, as the release needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldRef {
    pub reservation_id: ReservationId,
    pub concert_id: ConcertId,
    pub date: ConcertDate,
    pub seat_no: SeatNo,
}

/// How a hold's transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldOutcome {
    Held,
    /// Another live hold or a sale has the seat; nothing was written.
    SeatTaken,
    /// The date's catalog is no longer the version the hold was priced at (an operator
    /// changed it before its first hold): nothing was written; read it again.
    CatalogChanged,
}

/// How a release's transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseOutcome {
    /// The seat is free again and the reservation EXPIRED.
    Released,
    /// The reservation is not HELD past its time (paid, released already, or not yet due).
    NotDue,
    /// The reservation is due, but its marker is someone else's now (a newer hold, or sold).
    SeatTakenSince,
}

/// Reads a hold's transaction, whose items are [marker, reservation, date's lock?].
fn hold_outcome(result: Result<(), TxError>) -> Result<HoldOutcome, StoreError> {
    const MARKER: usize = 0;
    const DATE: usize = 2;
    match result {
        Ok(()) => Ok(HoldOutcome::Held),
        Err(TxError::Store(e)) => Err(e),
        // Checked first: under a changed catalog the seat may not even exist.
        Err(TxError::Cancelled(c)) if c.condition_failed(DATE).is_some() || c.conflict_at(DATE) => {
            Ok(HoldOutcome::CatalogChanged)
        }
        // The marker's condition failed: someone else holds or bought the seat. So does a
        // TransactionConflict on it (AWS only): another hold is committing on it now.
        Err(TxError::Cancelled(c))
            if c.condition_failed(MARKER).is_some() || c.conflict_at(MARKER) =>
        {
            Ok(HoldOutcome::SeatTaken)
        }
        Err(TxError::Cancelled(c)) => Err(c.into_store_error()),
    }
}

/// Reads a release's transaction, whose items are [marker, reservation].
fn release_outcome(result: Result<(), TxError>) -> Result<ReleaseOutcome, StoreError> {
    const MARKER: usize = 0;
    const RESERVATION: usize = 1;
    match result {
        Ok(()) => Ok(ReleaseOutcome::Released),
        Err(TxError::Store(e)) => Err(e),
        Err(TxError::Cancelled(c)) if c.condition_failed(RESERVATION).is_some() => {
            Ok(ReleaseOutcome::NotDue)
        }
        Err(TxError::Cancelled(c)) if c.condition_failed(MARKER).is_some() => {
            Ok(ReleaseOutcome::SeatTakenSince)
        }
        Err(TxError::Cancelled(c)) => Err(c.into_store_error()),
    }
}

/// A new reservation proves its hold committed: only that hold writes it.
fn reservation_proof(db: &Db, r: &ReservationItem) -> Proof {
    Proof {
        table: db.reservations.clone(),
        key: key(
            keys::reservation_pk(&r.reservation_id),
            keys::RESERVATION_SK,
        ),
    }
}

impl Db {
    /// The hold: one TransactWriteItems. The marker's condition is the lock: no marker, or a
    /// HELD one whose time is over. The reservation is written with it. `lock_at`: the
    /// catalog version the price came from, while the date is not known to be locked; the
    /// date is then locked in the same transaction, on the condition that its catalog is
    /// still that version, so a catalog change and a first hold never interleave.
    pub async fn put_hold(
        &self,
        hold: &HoldItem,
        reservation: &ReservationItem,
        now_ms: i64,
        lock_at: Option<u64>,
    ) -> Result<HoldOutcome, StoreError> {
        let marker = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(hold)?))
            .condition_expression(format!(
                "attribute_not_exists(PK) OR (#status = :held AND {})",
                HoldItem::LAPSED_AT_NOW
            ))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":held", s("HELD"))
            .expression_attribute_values(":now", n(now_ms))
            .build()?;
        let record = Put::builder()
            .table_name(&self.reservations)
            .set_item(Some(to_item(reservation)?))
            .condition_expression("attribute_not_exists(PK)")
            .build()?;
        let mut items = vec![
            TransactWriteItem::builder().put(marker).build(),
            TransactWriteItem::builder().put(record).build(),
        ];
        if let Some(version) = lock_at {
            let lock = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key(
                    keys::concert_pk(&hold.concert_id),
                    keys::date_sk(&hold.date),
                )))
                .update_expression(format!("SET {} = :locked", DateItem::LOCKED))
                .condition_expression(format!("{} = :version", DateItem::VERSION))
                .expression_attribute_values(
                    ":locked",
                    aws_sdk_dynamodb::types::AttributeValue::Bool(true),
                )
                .expression_attribute_values(":version", n(version as i64))
                .build()?;
            items.push(TransactWriteItem::builder().update(lock).build());
        }
        let proof = reservation_proof(self, reservation);
        hold_outcome(self.transact(items, Some(&proof)).await)
    }

    pub async fn get_reservation(
        &self,
        id: &ReservationId,
    ) -> Result<Option<ReservationItem>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.reservations)
            .set_key(Some(key(keys::reservation_pk(id), keys::RESERVATION_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", e))?;
        out.item.map(from_item).transpose()
    }

    fn expire_reservation(&self, hold: &HoldRef, now_ms: i64) -> Result<Update, StoreError> {
        Update::builder()
            .table_name(&self.reservations)
            .set_key(Some(key(
                keys::reservation_pk(&hold.reservation_id),
                keys::RESERVATION_SK,
            )))
            .update_expression("SET #status = :expired REMOVE heldShard")
            .condition_expression(format!("#status = :held AND {}", HoldItem::LAPSED_AT_NOW))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":expired", s("EXPIRED"))
            .expression_attribute_values(":held", s("HELD"))
            .expression_attribute_values(":now", n(now_ms))
            .build()
            .map_err(StoreError::from)
    }

    /// Releases the seat and marks the reservation EXPIRED in one transaction, conditional on
    /// the seat still being held by that reservation (a marker TTL already deleted counts).
    /// Conflicts with other writers are retried here.
    pub async fn release_hold(
        &self,
        hold: &HoldRef,
        now_ms: i64,
    ) -> Result<ReleaseOutcome, StoreError> {
        let marker = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(
                keys::seats_pk(&hold.concert_id, &hold.date),
                keys::hold_sk(hold.seat_no),
            )))
            .condition_expression(format!(
                "attribute_not_exists(PK) OR (reservationId = :rid AND #status = :held AND {})",
                HoldItem::LAPSED_AT_NOW
            ))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":rid", s(hold.reservation_id.to_string()))
            .expression_attribute_values(":held", s("HELD"))
            .expression_attribute_values(":now", n(now_ms))
            .build()?;
        let items = vec![
            TransactWriteItem::builder().delete(marker).build(),
            TransactWriteItem::builder()
                .update(self.expire_reservation(hold, now_ms)?)
                .build(),
        ];
        // A release is idempotent, so a lost answer needs no proof: driven again, it commits
        // or finds its work done.
        release_outcome(retry_conflicts(|| self.transact(items.clone(), None)).await)
    }

    /// What DynamoDB's TTL does to a hold marker, for the local stack that plays it: deletes
    /// the marker if it is still this reservation's HELD marker and its `ttl` (epoch seconds)
    /// has passed. Returns its key when it deleted it.
    pub async fn delete_expired_marker(
        &self,
        hold: &HoldRef,
        now_s: i64,
    ) -> Result<Option<(String, String)>, StoreError> {
        let (pk, sk) = (
            keys::seats_pk(&hold.concert_id, &hold.date),
            keys::hold_sk(hold.seat_no),
        );
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(pk.clone(), sk.clone())))
            .condition_expression("reservationId = :rid AND #status = :held AND #ttl < :now")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":rid", s(hold.reservation_id.to_string()))
            .expression_attribute_values(":held", s("HELD"))
            .expression_attribute_values(":now", n(now_s))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Some((pk, sk))),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(sdk_error("DeleteItem", e)),
        }
    }

    /// Marks a reservation EXPIRED whose seat someone else holds since (its marker was
    /// overwritten after its time). Ok(false) when it is already CONFIRMED or EXPIRED.
    pub async fn expire_reservation_only(
        &self,
        hold: &HoldRef,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let update = self.expire_reservation(hold, now_ms)?;
        let result = self
            .client
            .update_item()
            .table_name(&self.reservations)
            .set_key(Some(update.key))
            .update_expression(update.update_expression)
            .set_condition_expression(update.condition_expression)
            .set_expression_attribute_names(update.expression_attribute_names)
            .set_expression_attribute_values(update.expression_attribute_values)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::None)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(sdk_error("UpdateItem", e)),
        }
    }

    /// HELD reservations of one index shard whose time ran out, oldest first; one Query page.
    pub async fn expired_holds(
        &self,
        shard: u32,
        now_ms: i64,
        limit: i32,
    ) -> Result<Vec<HoldRef>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.reservations)
            .index_name(HELD_BY_EXPIRY_INDEX)
            .key_condition_expression("heldShard = :shard AND expiresAt <= :now")
            .expression_attribute_values(":shard", s(keys::held_shard_no(shard)))
            .expression_attribute_values(":now", n(now_ms))
            .limit(limit)
            .send()
            .await
            .map_err(|e| sdk_error("Query", e))?;
        out.items
            .unwrap_or_default()
            .into_iter()
            .map(|item| {
                let r: ReservationItem = from_item(item)?;
                Ok(HoldRef::from(&r))
            })
            .collect()
    }
}

impl From<&ReservationItem> for HoldRef {
    fn from(r: &ReservationItem) -> Self {
        Self {
            reservation_id: r.reservation_id,
            concert_id: r.concert_id.clone(),
            date: r.date,
            seat_no: r.seat_no,
        }
    }
}

impl From<&crate::domain::Reservation> for HoldRef {
    fn from(r: &crate::domain::Reservation) -> Self {
        Self {
            reservation_id: r.reservation_id,
            concert_id: r.concert_id.clone(),
            date: r.date,
            seat_no: r.seat_no,
        }
    }
}

impl From<&HoldItem> for HoldRef {
    fn from(h: &HoldItem) -> Self {
        Self {
            reservation_id: h.reservation_id,
            concert_id: h.concert_id.clone(),
            date: h.date,
            seat_no: h.seat_no,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::dynamo::testing::{cancelled_at, each_code};

    #[test]
    fn a_hold_reads_every_reason_code_on_its_marker() {
        for code in each_code() {
            let outcome = hold_outcome(cancelled_at(2, 0, code));
            match code {
                "ConditionalCheckFailed" | "TransactionConflict" => {
                    assert_eq!(outcome.unwrap(), HoldOutcome::SeatTaken, "{code}")
                }
                "ThrottlingError" | "ProvisionedThroughputExceeded" | "RequestLimitExceeded" => {
                    assert!(outcome.unwrap_err().is_transient(), "{code}")
                }
                _ => assert!(!outcome.unwrap_err().is_transient(), "{code}"),
            }
        }
    }

    #[test]
    fn a_hold_whose_reservation_fails_is_never_a_taken_seat() {
        for code in each_code() {
            let outcome = hold_outcome(cancelled_at(2, 1, code));
            assert!(outcome.is_err(), "{code}: {outcome:?}");
        }
    }

    #[test]
    fn a_release_reads_every_reason_code() {
        for code in each_code() {
            let on_marker = release_outcome(cancelled_at(2, 0, code));
            let on_reservation = release_outcome(cancelled_at(2, 1, code));
            match code {
                "ConditionalCheckFailed" => {
                    assert_eq!(on_marker.unwrap(), ReleaseOutcome::SeatTakenSince);
                    assert_eq!(on_reservation.unwrap(), ReleaseOutcome::NotDue);
                }
                "TransactionConflict"
                | "ThrottlingError"
                | "ProvisionedThroughputExceeded"
                | "RequestLimitExceeded" => {
                    assert!(on_marker.unwrap_err().is_transient(), "{code}");
                    assert!(on_reservation.unwrap_err().is_transient(), "{code}");
                }
                _ => {
                    assert!(!on_marker.unwrap_err().is_transient(), "{code}");
                    assert!(!on_reservation.unwrap_err().is_transient(), "{code}");
                }
            }
        }
    }
}
