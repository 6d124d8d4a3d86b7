//! DynamoDB I/O for the catalog, holds and reservations. One round trip per call.

use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};

use crate::domain::{ConcertDate, ConcertId, ReservationId, SeatNo, UserId};
use crate::error::StoreError;
use crate::store::dynamo::{
    from_item, key, n, retry_conflicts, s, sdk_error, to_item, Cancelled, Db, Proof, TxError,
    CONFLICT_ATTEMPTS,
};
use crate::store::items::{
    keys, DateItem, HoldItem, IdempotencyItem, ReservationItem, SeatCountItem,
};
use crate::store::schema::HELD_BY_EXPIRY_INDEX;

/// A reservation's hold, as a release needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldRef {
    pub reservation_id: ReservationId,
    pub user_id: UserId,
    pub concert_id: ConcertId,
    pub date: ConcertDate,
    /// Every seat, ascending.
    pub seat_nos: Vec<SeatNo>,
    /// Epoch milliseconds.
    pub expires_at: i64,
    /// Whether its seats are in the buyer's seat count (every hold since the count exists).
    pub counted: bool,
}

impl HoldRef {
    /// Its first seat: the marker the local TTL deletes.
    pub fn first_seat(&self) -> SeatNo {
        self.seat_nos[0]
    }

    /// The seat count's entry for this hold.
    fn entry(&self) -> String {
        SeatCountItem::entry_of(
            self.expires_at,
            &self.reservation_id,
            &self.date,
            &self.seat_nos,
        )
    }
}

/// How a hold's transaction ended. Every outcome but `Held` wrote nothing.
#[derive(Debug, Clone, PartialEq)]
pub enum HoldOutcome {
    Held,
    /// Another live hold or a sale has this seat (the first one found taken).
    SeatTaken(SeatNo),
    /// The buyer's seat count has no room for these seats; the count as it is, when the
    /// image came back (its lapsed holds can be released, then the hold tried again).
    LimitReached(Option<SeatCountItem>),
    /// The date's catalog is no longer the version the hold was priced at (an operator
    /// changed it before its first hold): read it again.
    CatalogChanged,
    /// A hold with the same Idempotency-Key committed first; its record, if the image came
    /// back.
    KeyTaken(Option<IdempotencyItem>),
}

/// What a hold writes: the items of one TransactWriteItems.
#[derive(Debug, Clone, Copy)]
pub struct HoldWrite<'a> {
    /// One per seat, ascending.
    pub markers: &'a [HoldItem],
    pub reservation: &'a ReservationItem,
    /// MAX_SEATS_PER_USER: the count's condition leaves room for the markers' seats.
    pub limit: u32,
    /// The catalog version the price came from, while the date is not known to be locked.
    pub lock_at: Option<u64>,
    /// A keyed hold's record.
    pub record: Option<&'a IdempotencyItem>,
}

/// The positions of a hold's items: [record?, marker × k, reservation, count, date's lock?].
#[derive(Debug, Clone, Copy)]
struct HoldLayout {
    keyed: bool,
    seats: usize,
    locks: bool,
}

impl HoldLayout {
    fn of(w: &HoldWrite<'_>) -> Self {
        Self {
            keyed: w.record.is_some(),
            seats: w.markers.len(),
            locks: w.lock_at.is_some(),
        }
    }
    fn record(&self) -> Option<usize> {
        self.keyed.then_some(0)
    }
    fn marker(&self, i: usize) -> usize {
        usize::from(self.keyed) + i
    }
    fn reservation(&self) -> usize {
        self.marker(self.seats)
    }
    fn count(&self) -> usize {
        self.reservation() + 1
    }
    fn date(&self) -> Option<usize> {
        self.locks.then_some(self.count() + 1)
    }
}

/// A hold's cancellation, read item by item.
#[derive(Debug)]
enum HoldStep {
    Done(HoldOutcome),
    /// Only the seat count lost a TransactionConflict (AWS only: another hold, payment or
    /// release of the same buyer and concert): worth sending again.
    CountContended(Cancelled),
}

/// Reads a hold's transaction, whose items are laid out as [`HoldLayout`] says.
fn hold_outcome(
    result: Result<(), TxError>,
    layout: HoldLayout,
    seats: &[SeatNo],
) -> Result<HoldStep, StoreError> {
    let c = match result {
        Ok(()) => return Ok(HoldStep::Done(HoldOutcome::Held)),
        Err(TxError::Store(e)) => return Err(e),
        Err(TxError::Cancelled(c)) => c,
    };
    // First: a request with the same key won (it also holds these seats and counted them).
    if let Some(i) = layout.record() {
        if let Some(image) = c.condition_failed(i) {
            let record = image.cloned().map(from_item).transpose()?;
            return Ok(HoldStep::Done(HoldOutcome::KeyTaken(record)));
        }
    }
    // Then the catalog: under a changed catalog the seat may not even exist.
    if let Some(i) = layout.date() {
        if c.condition_failed(i).is_some() || c.conflict_at(i) {
            return Ok(HoldStep::Done(HoldOutcome::CatalogChanged));
        }
    }
    // A marker's condition failed: someone else holds or bought the seat. So does a
    // TransactionConflict on it (AWS only): another hold is committing on it now.
    for (i, seat) in seats.iter().enumerate() {
        let at = layout.marker(i);
        if c.condition_failed(at).is_some() || c.conflict_at(at) {
            return Ok(HoldStep::Done(HoldOutcome::SeatTaken(*seat)));
        }
    }
    if let Some(image) = c.condition_failed(layout.count()) {
        let count = image.cloned().map(from_item).transpose()?;
        return Ok(HoldStep::Done(HoldOutcome::LimitReached(count)));
    }
    if c.conflict_at(layout.count()) && c.is_conflict() {
        return Ok(HoldStep::CountContended(c));
    }
    Err(c.into_store_error())
}

/// How an expiry's transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseOutcome {
    /// The reservation is EXPIRED, its seats off the buyer's count, and `freed` of its seats
    /// are free again: the others are someone else's since (a newer hold took them after its
    /// time, or sold them).
    Released { freed: usize },
    /// The reservation is not HELD past its time (paid, released already, or not yet due).
    NotDue,
}

/// One attempt of an expiry, read item by item: [marker × k, reservation, count?].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReleaseStep {
    Done,
    NotDue,
    /// The marker at this position is someone else's now: release the rest without it.
    MarkerTaken(usize),
}

fn release_step(result: Result<(), TxError>, markers: usize) -> Result<ReleaseStep, StoreError> {
    match result {
        Ok(()) => Ok(ReleaseStep::Done),
        Err(TxError::Store(e)) => Err(e),
        Err(TxError::Cancelled(c)) if c.condition_failed(markers).is_some() => {
            Ok(ReleaseStep::NotDue)
        }
        Err(TxError::Cancelled(c)) => {
            match (0..markers).find(|i| c.condition_failed(*i).is_some()) {
                Some(i) => Ok(ReleaseStep::MarkerTaken(i)),
                None => Err(c.into_store_error()),
            }
        }
    }
}

/// How a holder's release ended.
#[derive(Debug, Clone)]
pub enum HolderReleaseOutcome {
    /// The seats are free, the reservation RELEASED and its seats off the buyer's count.
    Released,
    /// The reservation is no longer a live hold of this user; as it is now, when the image
    /// came back.
    NotHeld(Option<Box<ReservationItem>>),
}

/// Reads a holder's release: [marker × k, reservation, count?].
fn holder_release_outcome(
    result: Result<(), TxError>,
    markers: usize,
) -> Result<HolderReleaseOutcome, StoreError> {
    match result {
        Ok(()) => Ok(HolderReleaseOutcome::Released),
        Err(TxError::Store(e)) => Err(e),
        Err(TxError::Cancelled(c)) => match c.condition_failed(markers) {
            Some(image) => Ok(HolderReleaseOutcome::NotHeld(
                image.cloned().map(from_item).transpose()?.map(Box::new),
            )),
            // A live hold's markers are its own: anything else is not ours to explain.
            None => Err(c.into_store_error()),
        },
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

/// How a transaction changes the buyer's seat count.
#[derive(Debug, Clone)]
pub(crate) enum CountChange {
    /// A hold: `seats + k` and its entry added, on the condition that `seats + k <= limit`.
    Hold { k: usize, limit: u32, entry: String },
    /// A payment: the hold's entry removed (its seats stay counted: sold).
    Sold { entry: String },
    /// An expiry or a release: `seats - k` and its entry removed.
    Freed { k: usize, entry: String },
    /// A refund: `seats - k`.
    Refunded { k: usize },
}

impl Db {
    /// The Update of the buyer's seat count of `concert` that `change` makes. With no
    /// condition but a hold's: every other change rides in a transaction whose own
    /// conditions make it happen once.
    pub(crate) fn count_update(
        &self,
        user: &UserId,
        concert: &ConcertId,
        change: CountChange,
    ) -> Result<TransactWriteItem, StoreError> {
        let k = |k: usize| n(k as i64);
        let set = |e: String| AttributeValue::Ss(vec![e]);
        let b = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::user_pk(user), keys::seat_count_sk(concert))));
        let b = match change {
            CountChange::Hold {
                k: seats,
                limit,
                entry,
            } => b
                .update_expression(
                    "ADD #seats :k, #holds :entry \
                     SET entity = :entity, userId = :user, concertId = :concert",
                )
                .condition_expression("attribute_not_exists(#seats) OR #seats <= :room")
                .expression_attribute_names("#seats", SeatCountItem::SEATS)
                .expression_attribute_names("#holds", SeatCountItem::HOLDS)
                .expression_attribute_values(":k", k(seats))
                .expression_attribute_values(":entry", set(entry))
                .expression_attribute_values(":entity", s("SeatCount"))
                .expression_attribute_values(":user", s(user.to_string()))
                .expression_attribute_values(":concert", s(concert.to_string()))
                .expression_attribute_values(":room", n(i64::from(limit) - seats as i64))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                ),
            CountChange::Sold { entry } => b
                .update_expression("DELETE #holds :entry")
                .expression_attribute_names("#holds", SeatCountItem::HOLDS)
                .expression_attribute_values(":entry", set(entry)),
            CountChange::Freed { k: seats, entry } => b
                .update_expression("ADD #seats :minus DELETE #holds :entry")
                .expression_attribute_names("#seats", SeatCountItem::SEATS)
                .expression_attribute_names("#holds", SeatCountItem::HOLDS)
                .expression_attribute_values(":minus", n(-(seats as i64)))
                .expression_attribute_values(":entry", set(entry)),
            CountChange::Refunded { k: seats } => b
                .update_expression("ADD #seats :minus")
                .expression_attribute_names("#seats", SeatCountItem::SEATS)
                .expression_attribute_values(":minus", n(-(seats as i64))),
        };
        Ok(TransactWriteItem::builder().update(b.build()?).build())
    }

    /// The hold: one TransactWriteItems. Each seat's marker's condition is its lock: no
    /// marker, or a HELD one whose time is over. The reservation is written with them, and the
    /// buyer's seat count takes the seats on the condition that it has room for them. A keyed
    /// hold's record comes first. `lock_at`: the catalog version the price came from, while
    /// the date is not known to be locked; the date is then locked in the same transaction,
    /// on the condition that its catalog is still that version, so a catalog change and a
    /// first hold never interleave. A TransactionConflict on the count alone (AWS only) is
    /// sent again; on a marker it means another hold is committing there: the seat is taken.
    pub async fn hold_seats(
        &self,
        w: &HoldWrite<'_>,
        now_ms: i64,
    ) -> Result<HoldOutcome, StoreError> {
        let r = w.reservation;
        let mut items = Vec::with_capacity(w.markers.len() + 4);
        if let Some(record) = w.record {
            items.push(self.put_new(record)?);
        }
        for hold in w.markers {
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
            items.push(TransactWriteItem::builder().put(marker).build());
        }
        let record = Put::builder()
            .table_name(&self.reservations)
            .set_item(Some(to_item(r)?))
            .condition_expression("attribute_not_exists(PK)")
            .build()?;
        items.push(TransactWriteItem::builder().put(record).build());
        items.push(self.count_update(
            &r.user_id,
            &r.concert_id,
            CountChange::Hold {
                k: w.markers.len(),
                limit: w.limit,
                entry: SeatCountItem::entry(r),
            },
        )?);
        if let Some(version) = w.lock_at {
            let lock = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key(
                    keys::concert_pk(&r.concert_id),
                    keys::date_sk(&r.date),
                )))
                .update_expression(format!("SET {} = :locked", DateItem::LOCKED))
                .condition_expression(format!("{} = :version", DateItem::VERSION))
                .expression_attribute_values(":locked", AttributeValue::Bool(true))
                .expression_attribute_values(":version", n(version as i64))
                .build()?;
            items.push(TransactWriteItem::builder().update(lock).build());
        }
        let layout = HoldLayout::of(w);
        let seats: Vec<SeatNo> = w.markers.iter().map(|m| m.seat_no).collect();
        let proof = reservation_proof(self, r);
        let mut tries = 0;
        loop {
            tries += 1;
            let result = self.transact(items.clone(), Some(&proof)).await;
            match hold_outcome(result, layout, &seats)? {
                HoldStep::Done(outcome) => return Ok(outcome),
                HoldStep::CountContended(c) if tries >= CONFLICT_ATTEMPTS => {
                    return Err(c.into_store_error())
                }
                HoldStep::CountContended(_) => {
                    let cap_ms = 10u64 << tries;
                    let wait = rand::random_range(cap_ms / 2..=cap_ms);
                    tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
                }
            }
        }
    }

    /// A one-seat hold of `hold`'s seat for `reservation`, within the widest seat limit: what
    /// tools and tests write holds with.
    pub async fn put_hold(
        &self,
        hold: &HoldItem,
        reservation: &ReservationItem,
        now_ms: i64,
        lock_at: Option<u64>,
    ) -> Result<HoldOutcome, StoreError> {
        let markers = [hold.clone()];
        self.hold_seats(
            &HoldWrite {
                markers: &markers,
                reservation,
                limit: crate::settings::Settings::MAX_SEATS_BOUND as u32,
                lock_at,
                record: None,
            },
            now_ms,
        )
        .await
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

    /// The reservation HELD and lapsed becomes EXPIRED and leaves the sweep's index.
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

    /// The seats' markers deleted, each on `condition` (with `:rid`, `:held`, `:now`).
    fn delete_markers(
        &self,
        hold: &HoldRef,
        seats: &[SeatNo],
        condition: &str,
        now_ms: i64,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        seats
            .iter()
            .map(|seat| {
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(
                        keys::seats_pk(&hold.concert_id, &hold.date),
                        keys::hold_sk(*seat),
                    )))
                    .condition_expression(condition)
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":rid", s(hold.reservation_id.to_string()))
                    .expression_attribute_values(":held", s("HELD"));
                // DynamoDB refuses a value the expression does not use.
                let delete = if condition.contains(":now") {
                    delete.expression_attribute_values(":now", n(now_ms))
                } else {
                    delete
                };
                Ok(TransactWriteItem::builder().delete(delete.build()?).build())
            })
            .collect()
    }

    /// The expiry of a hold, in one transaction: its seats' markers deleted where they are
    /// still this reservation's lapsed HELD markers (a marker TTL already deleted counts), the
    /// reservation marked EXPIRED if it is still HELD and lapsed, and its seats given back to
    /// the buyer's count. A marker someone else has since (a newer hold after its time, or a
    /// sale) is left out and the rest sent again, so the reservation and the count are always
    /// settled. Conflicts with other writers are retried here.
    pub async fn release_hold(
        &self,
        hold: &HoldRef,
        now_ms: i64,
    ) -> Result<ReleaseOutcome, StoreError> {
        let mut seats = hold.seat_nos.clone();
        loop {
            let mut items = self.delete_markers(
                hold,
                &seats,
                &format!(
                    "attribute_not_exists(PK) OR (reservationId = :rid AND #status = :held AND {})",
                    HoldItem::LAPSED_AT_NOW
                ),
                now_ms,
            )?;
            items.push(
                TransactWriteItem::builder()
                    .update(self.expire_reservation(hold, now_ms)?)
                    .build(),
            );
            if hold.counted {
                items.push(self.count_update(
                    &hold.user_id,
                    &hold.concert_id,
                    CountChange::Freed {
                        k: hold.seat_nos.len(),
                        entry: hold.entry(),
                    },
                )?);
            }
            // A release is idempotent, so a lost answer needs no proof: driven again, it
            // commits or finds its work done.
            let result = retry_conflicts(|| self.transact(items.clone(), None)).await;
            match release_step(result, seats.len())? {
                ReleaseStep::Done => return Ok(ReleaseOutcome::Released { freed: seats.len() }),
                ReleaseStep::NotDue => return Ok(ReleaseOutcome::NotDue),
                ReleaseStep::MarkerTaken(i) => {
                    seats.remove(i);
                }
            }
        }
    }

    /// A release by the holder, in one transaction: the seats' markers deleted (still this
    /// reservation's HELD markers), the reservation HELD, live and the user's becomes RELEASED
    /// and leaves the sweep's index, and its seats are given back to the buyer's count.
    /// Conflicts with other writers are retried here.
    pub async fn release_by_holder(
        &self,
        hold: &HoldRef,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<HolderReleaseOutcome, StoreError> {
        let now_ms = now.timestamp_millis();
        let mut items = self.delete_markers(
            hold,
            &hold.seat_nos,
            "attribute_not_exists(PK) OR (reservationId = :rid AND #status = :held)",
            now_ms,
        )?;
        let release = Update::builder()
            .table_name(&self.reservations)
            .set_key(Some(key(
                keys::reservation_pk(&hold.reservation_id),
                keys::RESERVATION_SK,
            )))
            .update_expression("SET #status = :released, releasedAt = :at REMOVE heldShard")
            .condition_expression(format!(
                "#status = :held AND userId = :user AND {}",
                HoldItem::LIVE_AT_NOW
            ))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":released", s("RELEASED"))
            .expression_attribute_values(":held", s("HELD"))
            .expression_attribute_values(":user", s(hold.user_id.to_string()))
            .expression_attribute_values(
                ":at",
                serde_dynamo::to_attribute_value::<_, AttributeValue>(now)?,
            )
            .expression_attribute_values(":now", n(now_ms))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()?;
        items.push(TransactWriteItem::builder().update(release).build());
        if hold.counted {
            items.push(self.count_update(
                &hold.user_id,
                &hold.concert_id,
                CountChange::Freed {
                    k: hold.seat_nos.len(),
                    entry: hold.entry(),
                },
            )?);
        }
        let result = retry_conflicts(|| self.transact(items.clone(), None)).await;
        holder_release_outcome(result, hold.seat_nos.len())
    }

    /// The buyer's seat count of a concert: one consistent GetItem.
    pub async fn seat_count(
        &self,
        user: &UserId,
        concert: &ConcertId,
    ) -> Result<Option<SeatCountItem>, StoreError> {
        self.get(keys::user_pk(user), keys::seat_count_sk(concert))
            .await
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
            keys::hold_sk(hold.first_seat()),
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
            user_id: r.user_id.clone(),
            concert_id: r.concert_id.clone(),
            date: r.date,
            seat_nos: r.seats(),
            expires_at: r.expires_at,
            counted: r.counted(),
        }
    }
}

impl From<&crate::domain::Reservation> for HoldRef {
    /// A reservation held since the seat count exists (as every new one is): counted.
    fn from(r: &crate::domain::Reservation) -> Self {
        Self {
            reservation_id: r.reservation_id,
            user_id: r.user_id.clone(),
            concert_id: r.concert_id.clone(),
            date: r.date,
            seat_nos: r.seat_nos.clone(),
            expires_at: r.expires_at.timestamp_millis(),
            counted: true,
        }
    }
}

impl From<&HoldItem> for HoldRef {
    /// From a marker (the stream's old image): it names every seat of its reservation.
    fn from(h: &HoldItem) -> Self {
        Self {
            reservation_id: h.reservation_id,
            user_id: h.user_id.clone(),
            concert_id: h.concert_id.clone(),
            date: h.date,
            seat_nos: if h.seat_nos.is_empty() {
                vec![h.seat_no]
            } else {
                h.seat_nos.clone()
            },
            expires_at: h.expires_at.unwrap_or_default(),
            counted: !h.seat_nos.is_empty(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::dynamo::testing::{cancelled_at, each_code};

    fn seats(n: usize) -> Vec<SeatNo> {
        (1..=n as i64).map(|i| SeatNo::new(i).unwrap()).collect()
    }

    fn transient(code: &str) -> bool {
        matches!(
            code,
            "TransactionConflict"
                | "ThrottlingError"
                | "ProvisionedThroughputExceeded"
                | "RequestLimitExceeded"
        )
    }

    /// Every layout a hold has: with and without a key, one seat or three, locking or not.
    fn layouts() -> Vec<HoldLayout> {
        let mut out = Vec::new();
        for keyed in [false, true] {
            for n in [1, 3] {
                for locks in [false, true] {
                    out.push(HoldLayout {
                        keyed,
                        seats: n,
                        locks,
                    });
                }
            }
        }
        out
    }

    fn items(l: HoldLayout) -> usize {
        usize::from(l.keyed) + l.seats + 2 + usize::from(l.locks)
    }

    #[test]
    fn a_hold_reads_every_reason_code_at_every_item() {
        for layout in layouts() {
            let all = seats(layout.seats);
            for index in 0..items(layout) {
                for code in each_code() {
                    let step = hold_outcome(cancelled_at(items(layout), index, code), layout, &all);
                    let what = format!("{layout:?} at {index}: {code}");
                    let marker = (0..layout.seats).find(|i| layout.marker(*i) == index);
                    match (code, step) {
                        ("ConditionalCheckFailed", Ok(HoldStep::Done(outcome))) => {
                            let expected = if Some(index) == layout.record() {
                                "KeyTaken(None)".to_owned()
                            } else if Some(index) == layout.date() {
                                "CatalogChanged".to_owned()
                            } else if let Some(i) = marker {
                                format!("SeatTaken({:?})", all[i])
                            } else if index == layout.count() {
                                "LimitReached(None)".to_owned()
                            } else {
                                panic!("{what}: {outcome:?}");
                            };
                            assert_eq!(format!("{outcome:?}"), expected, "{what}");
                        }
                        // The reservation's key is new by construction: our bug.
                        ("ConditionalCheckFailed", Err(e)) => {
                            assert_eq!(index, layout.reservation(), "{what}");
                            assert!(!e.is_transient(), "{what}");
                        }
                        ("TransactionConflict", Ok(HoldStep::Done(outcome))) => {
                            let expected = if Some(index) == layout.date() {
                                "CatalogChanged".to_owned()
                            } else if let Some(i) = marker {
                                format!("SeatTaken({:?})", all[i])
                            } else {
                                panic!("{what}: {outcome:?}");
                            };
                            assert_eq!(format!("{outcome:?}"), expected, "{what}");
                        }
                        ("TransactionConflict", Ok(HoldStep::CountContended(_))) => {
                            assert_eq!(index, layout.count(), "{what}")
                        }
                        (_, Ok(step)) => panic!("{what}: {step:?}"),
                        (code, Err(e)) => assert_eq!(e.is_transient(), transient(code), "{what}"),
                    }
                }
            }
        }
    }

    #[test]
    fn a_taken_key_wins_over_taken_seats_and_a_full_count() {
        let layout = HoldLayout {
            keyed: true,
            seats: 2,
            locks: false,
        };
        let reasons = (0..items(layout))
            .map(|_| crate::store::dynamo::Reason::new("ConditionalCheckFailed", None))
            .collect();
        let step = hold_outcome(
            Err(TxError::Cancelled(Cancelled(reasons))),
            layout,
            &seats(2),
        );
        assert!(matches!(
            step,
            Ok(HoldStep::Done(HoldOutcome::KeyTaken(None)))
        ));
    }

    #[test]
    fn an_expiry_reads_every_reason_code() {
        for markers in [0, 1, 3] {
            for counted in [false, true] {
                let total = markers + 1 + usize::from(counted);
                for index in 0..total {
                    for code in each_code() {
                        let step = release_step(cancelled_at(total, index, code), markers);
                        let what = format!("{markers} markers at {index}: {code}");
                        match code {
                            "ConditionalCheckFailed" if index < markers => {
                                assert_eq!(step.unwrap(), ReleaseStep::MarkerTaken(index), "{what}")
                            }
                            "ConditionalCheckFailed" if index == markers => {
                                assert_eq!(step.unwrap(), ReleaseStep::NotDue, "{what}")
                            }
                            // The count has no condition: our bug.
                            "ConditionalCheckFailed" => {
                                assert!(!step.unwrap_err().is_transient(), "{what}")
                            }
                            code => {
                                assert_eq!(
                                    step.unwrap_err().is_transient(),
                                    transient(code),
                                    "{what}"
                                )
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn a_holders_release_reads_every_reason_code() {
        for markers in [1, 3] {
            let total = markers + 2;
            for index in 0..total {
                for code in each_code() {
                    let outcome = holder_release_outcome(cancelled_at(total, index, code), markers);
                    let what = format!("{markers} markers at {index}: {code}");
                    match code {
                        "ConditionalCheckFailed" if index == markers => assert!(
                            matches!(outcome, Ok(HolderReleaseOutcome::NotHeld(None))),
                            "{what}"
                        ),
                        "ConditionalCheckFailed" => {
                            assert!(!outcome.unwrap_err().is_transient(), "{what}")
                        }
                        code => assert_eq!(
                            outcome.unwrap_err().is_transient(),
                            transient(code),
                            "{what}"
                        ),
                    }
                }
            }
        }
    }

    #[test]
    fn a_count_entry_reads_back_as_its_hold() {
        let r = ReservationItem::held_seats(
            ReservationId::generate(),
            &UserId::parse("u-1").unwrap(),
            &ConcertId::parse("c-1").unwrap(),
            ConcertDate::parse("2026-12-24").unwrap(),
            &[SeatNo::new(9).unwrap(), SeatNo::new(3).unwrap()],
            crate::domain::Won::new(10),
            chrono::Utc::now(),
            chrono::Utc::now(),
        );
        let count = SeatCountItem {
            pk: String::new(),
            sk: String::new(),
            entity: None,
            user_id: None,
            concert_id: None,
            seats: 2,
            holds: vec![SeatCountItem::entry(&r), "junk".into()],
        };
        let holds = count.counted_holds();
        assert_eq!(holds.len(), 1);
        assert_eq!(holds[0].reservation_id, r.reservation_id);
        assert_eq!(holds[0].seat_nos, r.seats());
        assert_eq!(holds[0].expires_at, r.expires_at);
        assert_eq!(HoldRef::from(&r).entry(), SeatCountItem::entry(&r));
    }
}
