//! Every DynamoDB key format and item shape, and nothing else. Items are (de)serialized with
//! serde_dynamo; no other module builds keys or attribute maps by hand.
//!
//! Two tables. The main table (stream, TTL) holds every item but reservations and payments;
//! the reservations table holds those (with the sweep's index). Item types (PK / SK):
//! - Concert      `CONCERT#{concertId}` / `CONCERT`
//! - Date         `CONCERT#{concertId}` / `DATE#{date}` (its sections: seats and prices)
//! - Hold marker  `SEATS#{concertId}#{date}` / `SEAT#{seatNo:04}#HOLD` (the seat's lock: HELD
//!   with an expiry and a TTL, or SOLD for good)
//! - Reservation  `RESERVATION#{reservationId}` / `RESERVATION` (reservations table; its
//!   user's list is the `ByUser` index, `userId` / `createdAt`)
//! - Payment      `RESERVATION#{reservationId}` / `PAYMENT` (reservations table)
//! - Token        `TOKEN#{tokenId}` / `TOKEN` (audit of every token issued)
//! - Balance      `USER#{userId}` / `BALANCE` (what the user holds, in won)
//! - Ledger       `USER#{userId}` / `LEDGER#{atMillis:013}#{entryId}` (every charge and payment,
//!   oldest first; the balance is their sum)
//! - Idempotency  `USER#{userId}` / `IDEMPOTENCY#{scope}#{key}` (a keyed request and its answer)
//! - Seat count   `USER#{userId}` / `SEATS#{concertId}` (the buyer's live held and sold seats of
//!   one concert, and their live holds: what `MAX_SEATS_PER_USER` is checked against)

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::catalog::{Name, Sections};
use crate::domain::paging::Position;
use crate::domain::token::TokenId;
use crate::domain::{ConcertDate, ConcertId, PaymentId, ReservationId, SeatNo, UserId, Won};

pub mod keys {
    use super::*;

    pub fn concert_pk(concert: &ConcertId) -> String {
        format!("CONCERT#{concert}")
    }
    pub const CONCERT_SK: &str = "CONCERT";
    pub const DATE_SK_PREFIX: &str = "DATE#";
    pub fn date_sk(date: &ConcertDate) -> String {
        format!("{DATE_SK_PREFIX}{date}")
    }
    /// One partition per performance date: its seats and their holds, read by one Query.
    pub fn seats_pk(concert: &ConcertId, date: &ConcertDate) -> String {
        format!("SEATS#{concert}#{date}")
    }
    pub fn hold_sk(seat: SeatNo) -> String {
        format!("SEAT#{:04}#HOLD", seat.get())
    }
    pub fn reservation_pk(id: &ReservationId) -> String {
        format!("RESERVATION#{id}")
    }
    pub const RESERVATION_SK: &str = "RESERVATION";
    /// A reservation's payment sits beside it, under the same key: there can be only one.
    pub const PAYMENT_SK: &str = "PAYMENT";
    /// Shards of the sweep index, so a spike of holds spreads over partitions of the index.
    pub const HELD_SHARDS: u32 = 8;
    pub fn held_shard(id: &ReservationId) -> String {
        let n = id.as_uuid().as_u128() % u128::from(HELD_SHARDS);
        format!("HELD#{n}")
    }
    pub fn held_shard_no(n: u32) -> String {
        format!("HELD#{n}")
    }
    /// The reservations table's index of a user's reservations, newest first: `userId` /
    /// `createdAt`, attributes every reservation has had from the start, so the index holds
    /// every reservation ever made, with nothing to backfill.
    pub const BY_USER_INDEX: &str = "ByUser";
    pub const BY_USER_PK: &str = "userId";
    pub const BY_USER_SK: &str = "createdAt";
    pub fn token_pk(id: &TokenId) -> String {
        format!("TOKEN#{id}")
    }
    pub const TOKEN_SK: &str = "TOKEN";
    /// One partition per user: the balance, its ledger and the user's idempotency records.
    pub fn user_pk(user: &UserId) -> String {
        format!("USER#{user}")
    }
    pub const BALANCE_SK: &str = "BALANCE";
    pub const LEDGER_SK_PREFIX: &str = "LEDGER#";
    /// Zero-padded milliseconds first, so a Query reads the ledger in time order.
    pub fn ledger_sk(at: DateTime<Utc>, entry: &Uuid) -> String {
        format!("{LEDGER_SK_PREFIX}{:013}#{entry}", at.timestamp_millis())
    }
    pub fn idempotency_sk(scope: IdempotencyScope, key: &crate::domain::IdempotencyKey) -> String {
        format!("IDEMPOTENCY#{}#{key}", scope.as_str())
    }
    /// The buyer's seat count of one concert, beside their balance.
    pub fn seat_count_sk(concert: &ConcertId) -> String {
        format!("SEATS#{concert}")
    }
}

/// Whether a raw item is of `entity` (its `entity` attribute), for a read that fetches items
/// of several kinds at once.
pub fn is_entity(
    item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
    entity: Entity,
) -> bool {
    let name = serde_dynamo::to_attribute_value(entity).ok();
    name.is_some() && item.get("entity") == name.as_ref()
}

/// Which kind of item this is; also what the stream filter selects on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Entity {
    Concert,
    Date,
    Hold,
    Reservation,
    Token,
    Balance,
    Ledger,
    Idempotency,
    Payment,
    SeatCount,
}

/// The concert: its name, opening and line controls, and `revision`, the count of catalog
/// changes, which every change's transaction conditions on (so concurrent PUTs apply one
/// after the other, never interleaved) and which dates take as their catalog version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConcertItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: Entity,
    pub concert_id: ConcertId,
    /// Items written before names existed read as the concert's ID.
    #[serde(default)]
    pub name: Option<Name>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opens_at: Option<DateTime<Utc>>,
    /// None: `QUEUE_ACTIVE_LIMIT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_limit: Option<u32>,
    #[serde(default)]
    pub paused: bool,
    #[serde(default)]
    pub revision: u64,
}

impl ConcertItem {
    /// The line controls it holds, at its revision.
    pub fn controls(&self) -> crate::domain::queue::LineControls {
        crate::domain::queue::LineControls {
            version: self.revision,
            active_limit: self.active_limit,
            paused: self.paused,
            opens_at: self.opens_at,
        }
    }

    pub fn new(concert: &ConcertId, name: Name, opens_at: Option<DateTime<Utc>>) -> Self {
        Self {
            pk: keys::concert_pk(concert),
            sk: keys::CONCERT_SK.to_owned(),
            entity: Entity::Concert,
            concert_id: concert.clone(),
            name: Some(name),
            opens_at,
            active_limit: None,
            paused: false,
            revision: 0,
        }
    }
}

/// A performance and its catalog. `catalogVersion` is the concert revision that last set its
/// sections; `locked` is set by the first hold on the date, in that hold's transaction, and
/// from then on the sections never change (`CATALOG_LOCKED`), so a process may keep them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DateItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: Entity,
    pub concert_id: ConcertId,
    pub date: ConcertDate,
    pub seat_count: u16,
    pub sections: Sections,
    pub catalog_version: u64,
    /// Absent until the first hold: a catalog change's condition is `attribute_not_exists`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub locked: bool,
}

impl DateItem {
    /// The attribute a hold sets, and a catalog change conditions on.
    pub const LOCKED: &'static str = "locked";
    pub const VERSION: &'static str = "catalogVersion";

    pub fn new(concert: &ConcertId, date: ConcertDate, sections: Sections, version: u64) -> Self {
        Self {
            pk: keys::concert_pk(concert),
            sk: keys::date_sk(&date),
            entity: Entity::Date,
            concert_id: concert.clone(),
            date,
            seat_count: sections.seat_count(),
            sections,
            catalog_version: version,
            locked: false,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: Entity,
    /// The token's random ID: the signed token itself is a credential and is never stored.
    pub token_id: String,
    pub user_id: UserId,
    pub concert_id: ConcertId,
    pub issued_at: DateTime<Utc>,
}

impl TokenItem {
    pub fn new(id: &TokenId, user: &UserId, concert: &ConcertId, issued_at: DateTime<Utc>) -> Self {
        Self {
            pk: keys::token_pk(id),
            sk: keys::TOKEN_SK.to_owned(),
            entity: Entity::Token,
            token_id: id.to_string(),
            user_id: user.clone(),
            concert_id: concert.clone(),
            issued_at,
        }
    }
}

/// The hold marker's state: a live (or lapsed) hold, or a sale that lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HoldStatus {
    Held,
    Sold,
}

/// The seat's lock. A hold is one conditional Put of this item: it succeeds when there is no
/// marker, or when the marker is a HELD whose `expiresAt` has passed. While HELD it carries
/// `ttl`, so DynamoDB deletes it after its time and the stream tells `release_hold`.
/// A payment turns it SOLD and drops `ttl` and `expiresAt`: the sale lasts. The door marks a
/// SOLD one `checkedInAt`, once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HoldItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: Entity,
    pub concert_id: ConcertId,
    pub date: ConcertDate,
    pub seat_no: SeatNo,
    pub status: HoldStatus,
    pub reservation_id: ReservationId,
    pub user_id: UserId,
    /// Every seat of its reservation, ascending, so that the stream release of one deleted
    /// marker releases them all without a read. Markers written before multi-seat holds have
    /// none: their reservation is this one seat.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seat_nos: Vec<SeatNo>,
    /// Epoch milliseconds; only while HELD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// Epoch seconds for DynamoDB TTL; only while HELD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<i64>,
    /// Set once, on a SOLD marker, when the door lets its seat in (`POST /admin/checkins`):
    /// a refund's delete of the marker is conditioned on its absence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_in_at: Option<DateTime<Utc>>,
    /// The scan that set `checkedInAt`: a check-in whose answer was lost and is sent again
    /// finds its own mark, and is answered as let in, not as a second scan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_in_id: Option<Uuid>,
}

impl HoldItem {
    /// The check-in's mark, which a refund's condition asks to be absent.
    pub const CHECKED_IN_AT: &'static str = "checkedInAt";
    pub const CHECK_IN_ID: &'static str = "checkInId";

    /// The condition under which a HELD marker's hold still counts at `:now` (epoch ms), and
    /// its negation: the one boundary of [`crate::domain::seats::hold_is_live`], written as
    /// the store's conditions. A hold is live while now < expiresAt.
    pub const LIVE_AT_NOW: &'static str = "expiresAt > :now";
    pub const LAPSED_AT_NOW: &'static str = "expiresAt <= :now";

    /// The marker of the reservation's first (or only) seat.
    pub fn held(r: &ReservationItem) -> Self {
        Self::held_seat(r, r.seat_no)
    }

    /// One marker per seat of the reservation, ascending.
    pub fn markers(r: &ReservationItem) -> Vec<Self> {
        r.seats()
            .into_iter()
            .map(|s| Self::held_seat(r, s))
            .collect()
    }

    /// The marker of one seat of the reservation.
    pub fn held_seat(r: &ReservationItem, seat: SeatNo) -> Self {
        Self {
            pk: keys::seats_pk(&r.concert_id, &r.date),
            sk: keys::hold_sk(seat),
            entity: Entity::Hold,
            concert_id: r.concert_id.clone(),
            date: r.date,
            seat_no: seat,
            status: HoldStatus::Held,
            reservation_id: r.reservation_id,
            user_id: r.user_id.clone(),
            seat_nos: r.seat_nos.clone(),
            expires_at: Some(r.expires_at),
            // Rounded up: TTL must never fire before the hold's time is over.
            ttl: Some((r.expires_at + 999) / 1000),
            checked_in_at: None,
            check_in_id: None,
        }
    }
}

pub use crate::domain::ReservationStatus;

/// A reservation's durable record: HELD, then CONFIRMED, EXPIRED or RELEASED; a CONFIRMED one
/// may become REFUNDED. While HELD it carries `heldShard`, which puts it in the sparse
/// `HeldByExpiry` index the sweep reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReservationItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: Entity,
    pub reservation_id: ReservationId,
    pub user_id: UserId,
    pub concert_id: ConcertId,
    pub date: ConcertDate,
    /// Its lowest seat (its only one, for a single-seat hold).
    pub seat_no: SeatNo,
    /// Every seat, ascending. Reservations written before multi-seat holds have none (read
    /// as their `seatNo`), and were never counted in the buyer's seat count.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seat_nos: Vec<SeatNo>,
    /// The sum of its seats' prices.
    pub price: Won,
    pub status: ReservationStatus,
    /// Epoch milliseconds.
    pub expires_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_shard: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Set when CONFIRMED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<PaymentId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_at: Option<DateTime<Utc>>,
    /// Set when RELEASED by its holder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released_at: Option<DateTime<Utc>>,
    /// Set when REFUNDED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refunded_at: Option<DateTime<Utc>>,
}

impl ReservationItem {
    #[allow(clippy::too_many_arguments)]
    pub fn held(
        id: ReservationId,
        user: &UserId,
        concert: &ConcertId,
        date: ConcertDate,
        seat: SeatNo,
        price: Won,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Self {
        Self::held_seats(id, user, concert, date, &[seat], price, expires_at, now)
    }

    /// A hold of `seats` (at least one; sorted and deduplicated here), `price` their sum.
    #[allow(clippy::too_many_arguments)]
    pub fn held_seats(
        id: ReservationId,
        user: &UserId,
        concert: &ConcertId,
        date: ConcertDate,
        seats: &[SeatNo],
        price: Won,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Self {
        let mut seat_nos = seats.to_vec();
        seat_nos.sort();
        seat_nos.dedup();
        let seat = *seat_nos.first().expect("a hold has a seat");
        Self {
            pk: keys::reservation_pk(&id),
            sk: keys::RESERVATION_SK.to_owned(),
            entity: Entity::Reservation,
            reservation_id: id,
            user_id: user.clone(),
            concert_id: concert.clone(),
            date,
            seat_no: seat,
            seat_nos,
            price,
            status: ReservationStatus::Held,
            expires_at: expires_at.timestamp_millis(),
            held_shard: Some(keys::held_shard(&id)),
            created_at: now,
            payment_id: None,
            paid_at: None,
            released_at: None,
            refunded_at: None,
        }
    }

    /// Every seat, ascending.
    pub fn seats(&self) -> Vec<SeatNo> {
        if self.seat_nos.is_empty() {
            vec![self.seat_no]
        } else {
            self.seat_nos.clone()
        }
    }

    /// Whether its seats are in the buyer's seat count: every reservation since the count
    /// exists (those carry `seatNos`).
    pub fn counted(&self) -> bool {
        !self.seat_nos.is_empty()
    }

    /// Where a page of its user's list ends when it is the page's last.
    pub fn position(&self) -> Position {
        Position {
            created_at: self.created_at,
            reservation: self.reservation_id,
        }
    }

    /// The `ByUser` key of the reservation at `position` of `user`'s list (what a Query's
    /// `ExclusiveStartKey` names: the index's key and the table's).
    pub fn by_user_key(
        user: &UserId,
        position: &Position,
    ) -> Result<
        std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
        serde_dynamo::Error,
    > {
        use aws_sdk_dynamodb::types::AttributeValue;
        Ok(std::collections::HashMap::from([
            (
                "PK".to_owned(),
                AttributeValue::S(keys::reservation_pk(&position.reservation)),
            ),
            (
                "SK".to_owned(),
                AttributeValue::S(keys::RESERVATION_SK.to_owned()),
            ),
            (
                keys::BY_USER_PK.to_owned(),
                AttributeValue::S(user.to_string()),
            ),
            // Serialized as `createdAt` was written, so the same string the index sorts by.
            (
                keys::BY_USER_SK.to_owned(),
                serde_dynamo::to_attribute_value(position.created_at)?,
            ),
        ]))
    }
}

impl From<&ReservationItem> for crate::domain::Reservation {
    fn from(r: &ReservationItem) -> Self {
        Self {
            reservation_id: r.reservation_id,
            user_id: r.user_id.clone(),
            concert_id: r.concert_id.clone(),
            date: r.date,
            seat_nos: r.seats(),
            price: r.price,
            status: r.status,
            // Written from a DateTime, so always in range.
            expires_at: DateTime::<Utc>::from_timestamp_millis(r.expires_at).unwrap_or_default(),
        }
    }
}

/// A user's balance. It changes only in a transaction that also writes a ledger entry, under a
/// condition on the balance it read (or on its absence, for a first charge).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BalanceItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: Entity,
    pub user_id: UserId,
    pub balance: Won,
    pub updated_at: DateTime<Utc>,
}

impl BalanceItem {
    /// The attribute the optimistic condition compares.
    pub const BALANCE_ATTRIBUTE: &str = "balance";

    pub fn new(user: &UserId, balance: Won, now: DateTime<Utc>) -> Self {
        Self {
            pk: keys::user_pk(user),
            sk: keys::BALANCE_SK.to_owned(),
            entity: Entity::Balance,
            user_id: user.clone(),
            balance,
            updated_at: now,
        }
    }
}

/// What moved a balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LedgerKind {
    Charge,
    Payment,
    Refund,
}

/// One movement of a balance, written in the same transaction as the balance itself, so a
/// user's balance is always the sum of their ledger's `amount`s.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: Entity,
    pub user_id: UserId,
    /// The charge ID or the payment ID.
    pub entry_id: Uuid,
    pub kind: LedgerKind,
    /// Signed won: positive for a charge or a refund, negative for a payment.
    pub amount: i64,
    pub balance_after: Won,
    pub at: DateTime<Utc>,
}

impl LedgerItem {
    /// `amount` is the size of the movement; its sign comes from `kind`.
    pub fn new(
        user: &UserId,
        entry_id: Uuid,
        kind: LedgerKind,
        amount: Won,
        balance_after: Won,
        at: DateTime<Utc>,
    ) -> Self {
        // Charges and prices are at most 10,000,000 won; the clamp is never reached.
        let size = i64::try_from(amount.get()).unwrap_or(i64::MAX);
        Self {
            pk: keys::user_pk(user),
            sk: keys::ledger_sk(at, &entry_id),
            entity: Entity::Ledger,
            user_id: user.clone(),
            entry_id,
            kind,
            amount: match kind {
                LedgerKind::Charge | LedgerKind::Refund => size,
                LedgerKind::Payment => -size,
            },
            balance_after,
            at,
        }
    }
}

/// Which operation an Idempotency-Key belongs to; a key used for a charge and for a payment
/// names two records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdempotencyScope {
    Charge,
    Payment,
    Hold,
    Refund,
}

impl IdempotencyScope {
    pub fn as_str(self) -> &'static str {
        match self {
            IdempotencyScope::Charge => "charge",
            IdempotencyScope::Payment => "payment",
            IdempotencyScope::Hold => "hold",
            IdempotencyScope::Refund => "refund",
        }
    }
}

/// A keyed request and the answer it got, written in the transaction that did the work (so
/// it exists if and only if the work was done). A replay with the same `request` gets
/// `status` and `response` again; another request under the key is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdempotencyItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: Entity,
    pub user_id: UserId,
    pub scope: IdempotencyScope,
    pub key: crate::domain::IdempotencyKey,
    /// The parsed request in a canonical form (its JSON, fields in declaration order).
    pub request: String,
    /// What the work produced the first time, as JSON (the flow's result, not an HTTP body).
    pub response: String,
    pub created_at: DateTime<Utc>,
}

impl IdempotencyItem {
    pub fn new(
        user: &UserId,
        scope: IdempotencyScope,
        key: &crate::domain::IdempotencyKey,
        request: String,
        response: String,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            pk: keys::user_pk(user),
            sk: keys::idempotency_sk(scope, key),
            entity: Entity::Idempotency,
            user_id: user.clone(),
            scope,
            key: key.clone(),
            request,
            response,
            created_at: now,
        }
    }
}

/// A payment's state: COMPLETED, or REFUNDED (with its reservation, in one transaction).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentStatus {
    /// Payments written before refunds existed have no status: they are COMPLETED.
    #[default]
    Completed,
    Refunded,
}

/// A completed payment, in the reservations table beside its reservation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: Entity,
    pub payment_id: PaymentId,
    pub reservation_id: ReservationId,
    pub user_id: UserId,
    pub amount: Won,
    pub balance_after: Won,
    pub paid_at: DateTime<Utc>,
    #[serde(default)]
    pub status: PaymentStatus,
    /// Set when REFUNDED: when, and the balance right after the refund (a refund asked again
    /// answers these).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refunded_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance_after_refund: Option<Won>,
}

impl PaymentItem {
    pub fn new(r: &ReservationItem, balance_after: Won, paid_at: DateTime<Utc>) -> Self {
        Self {
            pk: keys::reservation_pk(&r.reservation_id),
            sk: keys::PAYMENT_SK.to_owned(),
            entity: Entity::Payment,
            payment_id: PaymentId::of(&r.reservation_id),
            reservation_id: r.reservation_id,
            user_id: r.user_id.clone(),
            amount: r.price,
            balance_after,
            paid_at,
            status: PaymentStatus::Completed,
            refunded_at: None,
            balance_after_refund: None,
        }
    }
}

/// A buyer's seats of one concert: `seats`, their seats in live holds and purchases together
/// (what `MAX_SEATS_PER_USER` bounds), and `holds`, a string set of their holds not yet
/// released, paid or expired ([`SeatCountItem::entry`]), so that a hold refused by the limit
/// can release the buyer's lapsed holds without a Query. Written only by Updates (`ADD`
/// creates it): by a hold's transaction (`seats + k`, the entry added, on the condition that
/// there is room), and in the transaction of whatever frees or sells the seats (release,
/// expiry, refund: `seats - k`; payment, release, expiry: the entry removed). Each of those
/// transactions has its own once-only condition, so the count moves once per change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeatCountItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    #[serde(default)]
    pub entity: Option<Entity>,
    #[serde(default)]
    pub user_id: Option<UserId>,
    #[serde(default)]
    pub concert_id: Option<ConcertId>,
    #[serde(default)]
    pub seats: i64,
    #[serde(default)]
    pub holds: Vec<String>,
}

/// One live hold, as the seat count's `holds` set keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountedHold {
    pub expires_at: i64,
    pub reservation_id: ReservationId,
    pub date: ConcertDate,
    pub seat_nos: Vec<SeatNo>,
}

impl SeatCountItem {
    pub const SEATS: &'static str = "seats";
    pub const HOLDS: &'static str = "holds";

    /// `{expiresAt:013}#{reservationId}#{date}#{seat,seat,...}`: everything the release of
    /// that hold needs, and the same string from the reservation every time (a set's DELETE
    /// removes an exact element).
    pub fn entry(r: &ReservationItem) -> String {
        Self::entry_of(r.expires_at, &r.reservation_id, &r.date, &r.seats())
    }

    pub fn entry_of(
        expires_at: i64,
        reservation: &ReservationId,
        date: &ConcertDate,
        seats: &[SeatNo],
    ) -> String {
        let seats: Vec<String> = seats.iter().map(|s| s.get().to_string()).collect();
        format!("{expires_at:013}#{reservation}#{date}#{}", seats.join(","))
    }

    /// The holds listed, skipping any entry that does not parse.
    pub fn counted_holds(&self) -> Vec<CountedHold> {
        self.holds
            .iter()
            .filter_map(|e| {
                let mut parts = e.split('#');
                let expires_at = parts.next()?.parse().ok()?;
                let reservation_id = ReservationId::parse(parts.next()?).ok()?;
                let date = ConcertDate::parse(parts.next()?).ok()?;
                let seat_nos = parts
                    .next()?
                    .split(',')
                    .map(|s| s.parse::<i64>().ok().and_then(|n| SeatNo::new(n).ok()))
                    .collect::<Option<Vec<_>>>()?;
                Some(CountedHold {
                    expires_at,
                    reservation_id,
                    date,
                    seat_nos,
                })
            })
            .collect()
    }
}
