//! Request values as domain types. Each has a private field and a `parse`, so a value that
//! exists is valid; the HTTP layer attaches the field name to the reason when parsing fails.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Why a raw value was refused; the HTTP layer names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub &'static str);

const SLUG_MAX: usize = 64;

fn parse_slug(raw: &str) -> Result<String, Invalid> {
    if raw.is_empty() {
        return Err(Invalid("must not be empty"));
    }
    if raw.len() > SLUG_MAX {
        return Err(Invalid("must be at most 64 characters"));
    }
    if !raw
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(Invalid("must contain only A-Z, a-z, 0-9, '_' and '-'"));
    }
    Ok(raw.to_owned())
}

macro_rules! slug_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(raw: &str) -> Result<Self, Invalid> {
                parse_slug(raw).map(Self)
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl TryFrom<String> for $name {
            type Error = Invalid;
            fn try_from(raw: String) -> Result<Self, Invalid> {
                Self::parse(&raw)
            }
        }
        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

slug_id!(
    /// `userId`: 1 to 64 characters of `[A-Za-z0-9_-]`.
    UserId
);
slug_id!(
    /// `concertId`: 1 to 64 characters of `[A-Za-z0-9_-]`.
    ConcertId
);

/// A waiting-room token as a client sends it: 1 to 128 characters of `[A-Za-z0-9._~-]`, opaque
/// to clients. Whether we issued it is [`super::token::TokenKey::verify`]'s to say.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QueueToken(String);

impl QueueToken {
    pub const MAX_LEN: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let shaped = !raw.is_empty()
            && raw.len() <= Self::MAX_LEN
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'-'));
        if !shaped {
            return Err(Invalid(
                "must be 1 to 128 characters of A-Z, a-z, 0-9, '.', '_', '~' and '-'",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for QueueToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A generated UUID, accepted only in its canonical hyphenated form.
fn parse_uuid(raw: &str) -> Result<Uuid, Invalid> {
    if raw.len() != 36 {
        return Err(Invalid("must be a UUID (8-4-4-4-12 hex digits)"));
    }
    Uuid::try_parse(raw).map_err(|_| Invalid("must be a UUID (8-4-4-4-12 hex digits)"))
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(Uuid);

        impl $name {
            pub fn generate() -> Self {
                Self(Uuid::new_v4())
            }
            pub fn parse(raw: &str) -> Result<Self, Invalid> {
                parse_uuid(raw).map(Self)
            }
            pub fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }
        impl TryFrom<String> for $name {
            type Error = Invalid;
            fn try_from(raw: String) -> Result<Self, Invalid> {
                Self::parse(&raw)
            }
        }
        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0.hyphenated().to_string()
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }
    };
}

uuid_id!(
    /// A seat hold and what became of it.
    ReservationId
);
uuid_id!(
    /// One charge of a balance, and its ledger entry.
    ChargeId
);
uuid_id!(
    /// A payment. Derived from its reservation, so a reservation can have only one.
    PaymentId
);

impl PaymentId {
    /// The one payment ID a reservation can have: a name-based (v5) UUID of it.
    pub fn of(reservation: &ReservationId) -> Self {
        const NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_2a7e_4b3d_4e8a_9c5f_0d2b_7a61_e934);
        Self(Uuid::new_v5(&NAMESPACE, reservation.as_uuid().as_bytes()))
    }
}

/// A performance date, `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ConcertDate(NaiveDate);

impl ConcertDate {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let bytes = raw.as_bytes();
        let shape_ok = bytes.len() == 10
            && bytes.iter().enumerate().all(|(i, b)| match i {
                4 | 7 => *b == b'-',
                _ => b.is_ascii_digit(),
            });
        if !shape_ok {
            return Err(Invalid("must be a date, YYYY-MM-DD"));
        }
        NaiveDate::from_str(raw)
            .map(Self)
            .map_err(|_| Invalid("must be a real calendar date, YYYY-MM-DD"))
    }
    pub fn from_naive(date: NaiveDate) -> Self {
        Self(date)
    }
    pub fn today_utc() -> Self {
        Self(chrono::Utc::now().date_naive())
    }
    pub fn naive(&self) -> NaiveDate {
        self.0
    }
}
impl TryFrom<String> for ConcertDate {
    type Error = Invalid;
    fn try_from(raw: String) -> Result<Self, Invalid> {
        Self::parse(&raw)
    }
}
impl From<ConcertDate> for String {
    fn from(d: ConcertDate) -> String {
        d.to_string()
    }
}
impl fmt::Display for ConcertDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

/// A seat number, 1 to [`SeatNo::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "u16")]
pub struct SeatNo(u16);

impl SeatNo {
    /// Keys are zero-padded to four digits, so a date has at most 9,999 seats.
    pub const MAX: u16 = 9_999;
    pub fn new(n: i64) -> Result<Self, Invalid> {
        if (1..=i64::from(Self::MAX)).contains(&n) {
            Ok(Self(n as u16))
        } else {
            Err(Invalid("must be a seat number from 1 to 9999"))
        }
    }
    pub fn get(&self) -> u16 {
        self.0
    }
}
impl TryFrom<i64> for SeatNo {
    type Error = Invalid;
    fn try_from(n: i64) -> Result<Self, Invalid> {
        Self::new(n)
    }
}
impl From<SeatNo> for u16 {
    fn from(s: SeatNo) -> u16 {
        s.0
    }
}
impl fmt::Display for SeatNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A client's `Idempotency-Key`: 1 to 128 visible ASCII characters (0x21 to 0x7E), so it fits
/// a header, a log line and a DynamoDB sort key as it is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub const MAX_LEN: usize = 128;
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if raw.is_empty() {
            return Err(Invalid("must not be empty"));
        }
        if raw.len() > Self::MAX_LEN {
            return Err(Invalid("must be at most 128 characters"));
        }
        if !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Invalid(
                "must contain only visible ASCII characters, without spaces",
            ));
        }
        Ok(Self(raw.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl TryFrom<String> for IdempotencyKey {
    type Error = Invalid;
    fn try_from(raw: String) -> Result<Self, Invalid> {
        Self::parse(&raw)
    }
}
impl From<IdempotencyKey> for String {
    fn from(k: IdempotencyKey) -> String {
        k.0
    }
}
impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_accept_the_contract_alphabet_and_nothing_else() {
        assert!(UserId::parse("user_01-A").is_ok());
        assert!(UserId::parse(&"a".repeat(64)).is_ok());
        assert!(UserId::parse(&"a".repeat(65)).is_err());
        assert!(UserId::parse("").is_err());
        assert!(UserId::parse("사용자").is_err());
        assert!(ConcertId::parse("a b").is_err());
        assert!(ConcertId::parse("a#b").is_err());
    }

    #[test]
    fn uuids_must_be_canonical() {
        let r = ReservationId::generate();
        assert_eq!(ReservationId::parse(&r.to_string()), Ok(r));
        assert!(ReservationId::parse("not-a-uuid").is_err());
        assert!(ReservationId::parse(&r.as_uuid().simple().to_string()).is_err());
    }

    #[test]
    fn queue_tokens_are_up_to_128_characters_of_the_contract_alphabet() {
        assert!(QueueToken::parse("c.AbC_-~9").is_ok());
        assert!(QueueToken::parse(&"t".repeat(128)).is_ok());
        assert!(QueueToken::parse(&"t".repeat(129)).is_err());
        assert!(QueueToken::parse("").is_err());
        assert!(QueueToken::parse("a b").is_err());
        assert!(QueueToken::parse("a+b/c=").is_err());
    }

    #[test]
    fn dates_must_be_real_and_exactly_shaped() {
        assert!(ConcertDate::parse("2026-12-24").is_ok());
        assert!(ConcertDate::parse("2026-02-30").is_err());
        assert!(ConcertDate::parse("2026-1-01").is_err());
        assert!(ConcertDate::parse("+2026-01-01").is_err());
    }

    #[test]
    fn seat_numbers_are_bounded() {
        assert!(SeatNo::new(0).is_err());
        assert!(SeatNo::new(1).is_ok());
        assert!(SeatNo::new(9_999).is_ok());
        assert!(SeatNo::new(10_000).is_err());
    }

    #[test]
    fn idempotency_keys_are_one_to_128_visible_ascii_characters() {
        assert!(IdempotencyKey::parse("a").is_ok());
        assert!(IdempotencyKey::parse("charge:2026-12-24#1~!").is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(128)).is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(129)).is_err());
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse("two words").is_err());
        assert!(IdempotencyKey::parse("tab\there").is_err());
        assert!(IdempotencyKey::parse("키").is_err());
    }
}
