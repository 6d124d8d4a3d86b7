//! Pages of a user's reservations: how many a page holds, and the cursor that asks for the
//! next one.
//!
//! A cursor is `<position>.<mac>`: `position` is 24 bytes in base64url (the last listed
//! reservation's `createdAt` in nanoseconds since the epoch, and its ID), `mac` HMAC-SHA256
//! of the user and the position under a key derived from `QUEUE_TOKEN_KEY`, cut to 128 bits.
//! So a cursor changed by one character, or one made for another user, opens to nothing: it
//! never reaches another user's reservations, whatever it says. 55 characters, URL-safe.
//! Clients treat it as opaque.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use rand::RngCore;
use ring::hmac;
use uuid::Uuid;

use super::ids::{Invalid, ReservationId, UserId};

const MAC_BYTES: usize = 16;

/// How many reservations a page holds: 1 to 100, 20 when the request does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimit(u8);

impl PageLimit {
    pub const DEFAULT: PageLimit = PageLimit(20);
    pub const MAX: u8 = 100;

    /// A whole number from 1 to 100, in plain decimal.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        const BAD: Invalid = Invalid("must be a whole number from 1 to 100");
        if raw.is_empty() || raw.len() > 3 || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return Err(BAD);
        }
        match raw.parse::<u8>() {
            Ok(n) if (1..=Self::MAX).contains(&n) => Ok(Self(n)),
            _ => Err(BAD),
        }
    }

    pub fn get(self) -> usize {
        usize::from(self.0)
    }
}

/// Where a page ended: the last reservation listed. The next page starts after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub created_at: DateTime<Utc>,
    pub reservation: ReservationId,
}

impl Position {
    fn to_bytes(self) -> Option<[u8; 24]> {
        let mut bytes = [0u8; 24];
        bytes[..8].copy_from_slice(&self.created_at.timestamp_nanos_opt()?.to_be_bytes());
        bytes[8..].copy_from_slice(self.reservation.as_uuid().as_bytes());
        Some(bytes)
    }

    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let nanos = i64::from_be_bytes(bytes.get(..8)?.try_into().ok()?);
        let id = Uuid::from_slice(bytes.get(8..24)?).ok()?;
        Some(Self {
            created_at: DateTime::from_timestamp_nanos(nanos),
            reservation: ReservationId::parse(&id.hyphenated().to_string()).ok()?,
        })
    }
}

/// The key that seals and opens cursors. Its Debug never shows it.
#[derive(Clone)]
pub struct PageKey(hmac::Key);

impl fmt::Debug for PageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PageKey(..)")
    }
}

impl PageKey {
    /// Derived from the stack's secret under a label of its own, so no cursor MAC is ever a
    /// queue token's MAC or the other way round.
    pub fn from_secret(secret: &[u8]) -> Self {
        let derived = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, secret),
            b"concert-booking: reservation list cursors",
        );
        Self(hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()))
    }

    /// A key of this process alone (a local server without `QUEUE_TOKEN_KEY`).
    pub fn random() -> Self {
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        Self::from_secret(&secret)
    }

    fn mac(&self, user: &UserId, position: &[u8]) -> [u8; MAC_BYTES] {
        let mut ctx = hmac::Context::with_key(&self.0);
        ctx.update(user.as_str().as_bytes());
        ctx.update(b".");
        ctx.update(position);
        let mut out = [0u8; MAC_BYTES];
        out.copy_from_slice(&ctx.sign().as_ref()[..MAC_BYTES]);
        out
    }

    /// The cursor of `position` for `user`'s list.
    pub fn seal(&self, user: &UserId, position: Position) -> String {
        // Instants before 1677 or after 2262 do not fit in i64 nanoseconds; a reservation is
        // created now, so this is never reached.
        let bytes = position.to_bytes().unwrap_or([0; 24]);
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(bytes),
            URL_SAFE_NO_PAD.encode(self.mac(user, &bytes))
        )
    }

    /// The position a cursor of `user`'s list stands for; an error for anything else (altered,
    /// another user's, not a cursor at all).
    pub fn open(&self, user: &UserId, cursor: &str) -> Result<Position, Invalid> {
        const BAD: Invalid = Invalid("is not a cursor of this list");
        let (position, mac) = cursor.split_once('.').ok_or(BAD)?;
        let position = URL_SAFE_NO_PAD.decode(position).map_err(|_| BAD)?;
        let mac = URL_SAFE_NO_PAD.decode(mac).map_err(|_| BAD)?;
        if position.len() != 24 || mac.len() != MAC_BYTES {
            return Err(BAD);
        }
        let expected = self.mac(user, &position);
        // In constant time: the tag cannot be found byte by byte from response times.
        let differs = expected
            .iter()
            .zip(&mac)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if differs != 0 {
            return Err(BAD);
        }
        Position::from_bytes(&position).ok_or(BAD)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn position() -> Position {
        Position {
            created_at: DateTime::from_timestamp_nanos(1_766_000_000_123_456_789),
            reservation: ReservationId::generate(),
        }
    }

    fn user(name: &str) -> UserId {
        UserId::parse(name).unwrap()
    }

    #[test]
    fn a_cursor_opens_to_its_position_for_its_user_only() {
        let key = PageKey::random();
        let p = position();
        let cursor = key.seal(&user("alice"), p);
        assert_eq!(cursor.len(), 55);
        assert_eq!(key.open(&user("alice"), &cursor), Ok(p));
        assert!(key.open(&user("bob"), &cursor).is_err());
        assert!(PageKey::random().open(&user("alice"), &cursor).is_err());
    }

    #[test]
    fn a_cursor_changed_anywhere_is_refused() {
        let key = PageKey::random();
        let cursor = key.seal(&user("alice"), position());
        for i in 0..cursor.len() {
            let mut bytes = cursor.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let changed = String::from_utf8(bytes).unwrap();
            assert!(key.open(&user("alice"), &changed).is_err(), "{changed}");
        }
        for junk in ["", ".", "abc", "a.b.c"] {
            assert!(key.open(&user("alice"), junk).is_err());
        }
    }

    #[test]
    fn limits_are_one_to_a_hundred_in_plain_decimal() {
        assert_eq!(PageLimit::parse("1").unwrap().get(), 1);
        assert_eq!(PageLimit::parse("100").unwrap().get(), 100);
        for bad in ["0", "101", "-1", "+5", "1.0", " 5", "", "0x10", "1000"] {
            assert!(PageLimit::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(PageLimit::DEFAULT.get(), 20);
    }
}
