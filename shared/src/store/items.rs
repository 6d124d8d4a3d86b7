//! Every DynamoDB key format and item shape, and nothing else. Items are (de)serialized with
//! serde_dynamo; no other module builds keys or attribute maps by hand.
//!
//! Two tables. The main table (stream, TTL) holds every item but reservations and payments;
//! the reservations table holds those (with the sweep's index). Item types (PK / SK):
//! - Concert      `CONCERT#{concertId}` / `CONCERT`
//! - Date         `CONCERT#{concertId}` / `DATE#{date}` (its sections: seats and prices)
//! - Hold marker  `SEATS#{concertId}#{date}` / `SEAT#{seatNo:04}#HOLD` (the seat's lock: HELD
//!   with an expiry and a TTL, or SOLD for good)
//! - Reservation  `RESERVATION#{reservationId}` / `RESERVATION` (reservations table)
//! - Payment      `RESERVATION#{reservationId}` / `PAYMENT` (reservations table)
//! - Token        `TOKEN#{tokenId}` / `TOKEN` (audit of every token issued)
//! - Balance      `USER#{userId}` / `BALANCE` (what the user holds, in won)
//! - Ledger       `USER#{userId}` / `LEDGER#{atMillis:013}#{entryId}` (every charge and payment,
//!   oldest first; the balance is their sum)
//! - Idempotency  `USER#{userId}` / `IDEMPOTENCY#{scope}#{key}` (a keyed request and its answer)

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::catalog::{Name, Sections};
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
/// A payment turns it SOLD and drops `ttl` and `expiresAt`: the sale lasts.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    /// Epoch milliseconds; only while HELD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// Epoch seconds for DynamoDB TTL; only while HELD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<i64>,
}

impl HoldItem {
    /// The condition under which a HELD marker's hold still counts at `:now` (epoch ms), and
    /// its negation: the one boundary of [`crate::domain::seats::hold_is_live`], written as
    /// the store's conditions. A hold is live while now < expiresAt.
    pub const LIVE_AT_NOW: &'static str = "expiresAt > :now";
    pub const LAPSED_AT_NOW: &'static str = "expiresAt <= :now";

    pub fn held(r: &ReservationItem) -> Self {
        Self {
            pk: keys::seats_pk(&r.concert_id, &r.date),
            sk: keys::hold_sk(r.seat_no),
            entity: Entity::Hold,
            concert_id: r.concert_id.clone(),
            date: r.date,
            seat_no: r.seat_no,
            status: HoldStatus::Held,
            reservation_id: r.reservation_id,
            user_id: r.user_id.clone(),
            expires_at: Some(r.expires_at),
            // Rounded up: TTL must never fire before the hold's time is over.
            ttl: Some((r.expires_at + 999) / 1000),
        }
    }
}

pub use crate::domain::ReservationStatus;

/// A reservation's durable record: HELD, then CONFIRMED or EXPIRED. While HELD it carries
/// `heldShard`, which puts it in the sparse `HeldByExpiry` index the sweep reads.
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
    pub seat_no: SeatNo,
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
        Self {
            pk: keys::reservation_pk(&id),
            sk: keys::RESERVATION_SK.to_owned(),
            entity: Entity::Reservation,
            reservation_id: id,
            user_id: user.clone(),
            concert_id: concert.clone(),
            date,
            seat_no: seat,
            price,
            status: ReservationStatus::Held,
            expires_at: expires_at.timestamp_millis(),
            held_shard: Some(keys::held_shard(&id)),
            created_at: now,
            payment_id: None,
            paid_at: None,
        }
    }
}

impl From<&ReservationItem> for crate::domain::Reservation {
    fn from(r: &ReservationItem) -> Self {
        Self {
            reservation_id: r.reservation_id,
            user_id: r.user_id.clone(),
            concert_id: r.concert_id.clone(),
            date: r.date,
            seat_no: r.seat_no,
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
    /// Signed won: positive for a charge, negative for a payment.
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
                LedgerKind::Charge => size,
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
}

impl IdempotencyScope {
    pub fn as_str(self) -> &'static str {
        match self {
            IdempotencyScope::Charge => "charge",
            IdempotencyScope::Payment => "payment",
        }
    }
}

/// A keyed request and the answer it got, written in the transaction that did the work (so
/// it exists if and only if the work was done). A replay with the same `request` gets
/// `status` and `response` again; another request under the key is refused.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
        }
    }
}
