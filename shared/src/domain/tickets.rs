//! E-tickets: one per seat of a paid reservation, as a code anyone can check offline.
//!
//! A code is `<kid>.<ticketId>.<concertId>.<date>.<seatNo>.<signature>`:
//! - `kid`: the signing key's ID, the first 8 characters of its RFC 7638 JWK thumbprint;
//! - `ticketId`: `<reservationId>-<seatNo>` (a ticket is one seat of one reservation);
//! - `concertId`, `date` (`YYYY-MM-DD`) and `seatNo` (decimal): the ticket's facts;
//! - `signature`: Ed25519 over the ASCII bytes of everything before the last dot, base64url
//!   without padding (86 characters).
//!
//! At most 8 + 41 + 64 + 10 + 4 + 86 + 5 dots = 218 characters of `[A-Za-z0-9._-]`, within the
//! contract's 400. The key pair is seeded by SHA-256 of the stack's secret
//! (`TICKET_SIGNING_KEY`); keys rotated away stay known, and published, until a date
//! (`TICKET_RETIRED_KEYS`). Checking a code is [`TicketKeys::verify`]: no I/O, so a forged
//! code costs the door nothing but the check.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use ring::signature::{self, Ed25519KeyPair, KeyPair, UnparsedPublicKey};

use super::ids::{ConcertDate, ConcertId, Invalid, ReservationId, SeatNo};

/// The contract's bound on a code.
pub const MAX_CODE_LEN: usize = 400;
/// base64url of a 64-byte signature, unpadded.
const SIGNATURE_LEN: usize = 86;
const KID_LEN: usize = 8;

/// A ticket's ID: one seat of one reservation, `<reservationId>-<seatNo>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TicketId {
    pub reservation: ReservationId,
    pub seat: SeatNo,
}

impl TicketId {
    /// The canonical form only: the reservation's hyphenated UUID, `-`, the seat without
    /// leading zeros.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        const BAD: Invalid = Invalid("must be <reservationId>-<seatNo>");
        let (reservation, seat) = (raw.get(..36).ok_or(BAD)?, raw.get(36..).ok_or(BAD)?);
        let reservation = ReservationId::parse(reservation).map_err(|_| BAD)?;
        let seat = seat.strip_prefix('-').ok_or(BAD).and_then(parse_seat)?;
        let id = Self { reservation, seat };
        (id.to_string() == raw).then_some(id).ok_or(BAD)
    }
}

impl fmt::Display for TicketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.reservation, self.seat)
    }
}

/// A seat number in a code: decimal, no sign, no leading zero.
fn parse_seat(raw: &str) -> Result<SeatNo, Invalid> {
    const BAD: Invalid = Invalid("must be a seat number");
    if raw.is_empty() || raw.starts_with('0') || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BAD);
    }
    raw.parse::<i64>()
        .map_err(|_| BAD)
        .and_then(|n| SeatNo::new(n).map_err(|_| BAD))
}

/// What a ticket says: which seat of which reservation, for which performance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    pub id: TicketId,
    pub concert: ConcertId,
    pub date: ConcertDate,
}

impl Ticket {
    pub fn seat(&self) -> SeatNo {
        self.id.seat
    }

    /// The signed part of its code under key `kid`.
    fn signed_part(&self, kid: &str) -> String {
        format!(
            "{kid}.{}.{}.{}.{}",
            self.id, self.concert, self.date, self.id.seat
        )
    }
}

/// Why a code is not a ticket of ours. The door answers all of them alike (TICKET_INVALID);
/// the reason is for tests and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BadTicket {
    #[error("not shaped like a ticket code")]
    Shape,
    #[error("signed with a key this stack does not know (or no longer does)")]
    UnknownKey,
    #[error("the signature does not verify")]
    Signature,
}

/// A public key as the JWKS publishes it: its ID, its 32 bytes in base64url, and the last
/// date it is listed (none for the current key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub kid: String,
    pub x: String,
    pub until: Option<ConcertDate>,
}

impl PublicKey {
    fn of(public: &[u8], until: Option<ConcertDate>) -> Self {
        let x = URL_SAFE_NO_PAD.encode(public);
        Self {
            kid: kid_of(&x),
            x,
            until,
        }
    }
}

/// The first [`KID_LEN`] characters of the RFC 7638 thumbprint of an OKP/Ed25519 key: SHA-256
/// of its required members in lexicographic order, without spaces, base64url.
fn kid_of(x: &str) -> String {
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    let digest = ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())[..KID_LEN].to_owned()
}

/// A key rotated away: its codes still verify, and it is still published, through `until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetiredKey {
    pub public: PublicKey,
}

impl RetiredKey {
    /// `<x>@<YYYY-MM-DD>`: the old key's public `x` as the JWKS showed it, and the last
    /// date of the tickets it signed.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        const BAD: Invalid = Invalid("each retired key must be <x>@<YYYY-MM-DD>, x the 43 base64url characters of an Ed25519 public key");
        let (x, until) = raw.trim().split_once('@').ok_or(BAD)?;
        let bytes = URL_SAFE_NO_PAD.decode(x).map_err(|_| BAD)?;
        if bytes.len() != 32 {
            return Err(BAD);
        }
        let until = ConcertDate::parse(until).map_err(|_| BAD)?;
        Ok(Self {
            public: PublicKey::of(&bytes, Some(until)),
        })
    }
}

/// The stack's ticket keys: the current pair, which signs, and the retired public keys, which
/// only verify. Debug never shows the private key.
pub struct TicketKeys {
    pair: Ed25519KeyPair,
    current: PublicKey,
    retired: Vec<RetiredKey>,
}

impl fmt::Debug for TicketKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TicketKeys")
            .field("kid", &self.current.kid)
            .field("retired", &self.retired)
            .finish_non_exhaustive()
    }
}

impl TicketKeys {
    /// At least this many bytes of secret.
    pub const MIN_SECRET_LEN: usize = 32;

    /// The pair seeded by SHA-256 of `secret`: the same secret, the same keys, in every
    /// instance.
    pub fn from_secret(secret: &[u8], retired: Vec<RetiredKey>) -> Self {
        let seed = ring::digest::digest(&ring::digest::SHA256, secret);
        let pair = Ed25519KeyPair::from_seed_unchecked(seed.as_ref())
            .expect("any 32 bytes seed an Ed25519 key pair");
        let current = PublicKey::of(pair.public_key().as_ref(), None);
        // The current key is never also a retired one.
        let retired = retired
            .into_iter()
            .filter(|r| r.public.kid != current.kid)
            .collect();
        Self {
            pair,
            current,
            retired,
        }
    }

    /// Keys of this process alone (a local server without `TICKET_SIGNING_KEY`).
    pub fn random() -> Self {
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        Self::from_secret(&secret, Vec::new())
    }

    /// The current key's ID.
    pub fn kid(&self) -> &str {
        &self.current.kid
    }

    /// The code of `ticket`, signed with the current key. Ed25519 is deterministic: the same
    /// ticket always gets the same code under one key.
    pub fn sign(&self, ticket: &Ticket) -> String {
        let signed = ticket.signed_part(&self.current.kid);
        let signature = self.pair.sign(signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }

    /// The keys published on `today`: the current one, and each retired one through its date.
    pub fn published(&self, today: ConcertDate) -> Vec<PublicKey> {
        std::iter::once(self.current.clone())
            .chain(
                self.retired
                    .iter()
                    .filter(|r| r.public.until.is_some_and(|until| today <= until))
                    .map(|r| r.public.clone()),
            )
            .collect()
    }

    /// The ticket `code` stands for, if one of the keys published on `today` signed it.
    /// Pure computation: no store, no clock.
    pub fn verify(&self, code: &str, today: ConcertDate) -> Result<Ticket, BadTicket> {
        let shaped = !code.is_empty()
            && code.len() <= MAX_CODE_LEN
            && code
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'-'));
        if !shaped {
            return Err(BadTicket::Shape);
        }
        let (signed, signature) = code.rsplit_once('.').ok_or(BadTicket::Shape)?;
        if signature.len() != SIGNATURE_LEN {
            return Err(BadTicket::Shape);
        }
        // Strict: a signature whose unused last bits are set is refused, so a code has one
        // spelling.
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| BadTicket::Shape)?;
        let parts: Vec<&str> = signed.split('.').collect();
        let [kid, ticket, concert, date, seat] = parts.as_slice() else {
            return Err(BadTicket::Shape);
        };
        let public = self
            .published(today)
            .into_iter()
            .find(|k| k.kid == *kid)
            .ok_or(BadTicket::UnknownKey)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(&public.x)
            .map_err(|_| BadTicket::UnknownKey)?;
        UnparsedPublicKey::new(&signature::ED25519, bytes)
            .verify(signed.as_bytes(), &signature)
            .map_err(|_| BadTicket::Signature)?;
        // Signed by us, so well formed; parsed all the same, as anything from outside is.
        let id = TicketId::parse(ticket).map_err(|_| BadTicket::Shape)?;
        let ticket = Ticket {
            id,
            concert: ConcertId::parse(concert).map_err(|_| BadTicket::Shape)?,
            date: ConcertDate::parse(date).map_err(|_| BadTicket::Shape)?,
        };
        if parse_seat(seat) != Ok(id.seat) {
            return Err(BadTicket::Shape);
        }
        Ok(ticket)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(concert: &str) -> Ticket {
        Ticket {
            id: TicketId {
                reservation: ReservationId::generate(),
                seat: SeatNo::new(1234).unwrap(),
            },
            concert: ConcertId::parse(concert).unwrap(),
            date: ConcertDate::parse("2026-12-24").unwrap(),
        }
    }

    fn today() -> ConcertDate {
        ConcertDate::parse("2026-12-01").unwrap()
    }

    #[test]
    fn a_signed_code_verifies_to_its_ticket() {
        let keys = TicketKeys::random();
        let t = ticket("jazz-night_2026");
        let code = keys.sign(&t);
        assert_eq!(keys.verify(&code, today()), Ok(t.clone()));
        assert!(code.starts_with(&format!(
            "{}.{}.jazz-night_2026.2026-12-24.1234.",
            keys.kid(),
            t.id
        )));
    }

    #[test]
    fn the_same_secret_makes_the_same_keys_and_codes() {
        let a = TicketKeys::from_secret(&[7; 40], Vec::new());
        let b = TicketKeys::from_secret(&[7; 40], Vec::new());
        let t = ticket("c");
        assert_eq!(a.sign(&t), b.sign(&t));
        assert_eq!(a.kid().len(), 8);
        assert_ne!(a.kid(), TicketKeys::from_secret(&[8; 40], Vec::new()).kid());
    }

    #[test]
    fn the_longest_code_fits_the_contracts_400_characters() {
        let keys = TicketKeys::random();
        let code = keys.sign(&ticket(&"c".repeat(64)));
        assert_eq!(code.len(), 218);
    }

    #[test]
    fn every_changed_character_is_refused() {
        let keys = TicketKeys::random();
        let code = keys.sign(&ticket("jazz"));
        for i in 0..code.len() {
            for with in [b'A', b'z', b'.', b'0', b'-'] {
                let mut bytes = code.clone().into_bytes();
                if bytes[i] == with {
                    continue;
                }
                bytes[i] = with;
                let changed = String::from_utf8(bytes).unwrap();
                assert!(keys.verify(&changed, today()).is_err(), "{changed}");
            }
        }
        assert!(keys.verify(&format!("{code}A"), today()).is_err());
        assert!(keys.verify(&code[..code.len() - 1], today()).is_err());
    }

    #[test]
    fn another_keys_code_is_refused() {
        let t = ticket("jazz");
        let other = TicketKeys::random().sign(&t);
        assert_eq!(
            TicketKeys::random().verify(&other, today()),
            Err(BadTicket::UnknownKey)
        );
        // Another key under our kid: the signature fails.
        let keys = TicketKeys::random();
        let forged = format!("{}.{}", keys.kid(), other.split_once('.').unwrap().1);
        assert_eq!(keys.verify(&forged, today()), Err(BadTicket::Signature));
    }

    #[test]
    fn a_retired_key_verifies_and_is_published_through_its_date() {
        let old = TicketKeys::from_secret(&[1; 32], Vec::new());
        let t = ticket("jazz");
        let code = old.sign(&t);
        let x = &old.published(today())[0].x;
        let retired = RetiredKey::parse(&format!("{x}@2026-12-24")).unwrap();
        let new = TicketKeys::from_secret(&[2; 32], vec![retired]);
        let last_day = ConcertDate::parse("2026-12-24").unwrap();
        let after = ConcertDate::parse("2026-12-25").unwrap();
        assert_eq!(new.verify(&code, last_day), Ok(t));
        assert_eq!(new.published(last_day).len(), 2);
        assert_eq!(new.published(last_day)[1].kid, old.kid());
        assert_eq!(new.verify(&code, after), Err(BadTicket::UnknownKey));
        assert_eq!(new.published(after).len(), 1);
    }

    #[test]
    fn retired_keys_and_ticket_ids_parse_strictly() {
        assert!(RetiredKey::parse("abc@2026-12-24").is_err());
        assert!(RetiredKey::parse(&format!("{}@2026-13-01", "A".repeat(43))).is_err());
        assert!(RetiredKey::parse(&format!("{}@2026-12-01", "A".repeat(43))).is_ok());
        let id = TicketId {
            reservation: ReservationId::generate(),
            seat: SeatNo::new(7).unwrap(),
        };
        assert_eq!(TicketId::parse(&id.to_string()), Ok(id));
        assert!(TicketId::parse(&format!("{}-07", id.reservation)).is_err());
        assert!(TicketId::parse(&format!("{}7", id.reservation)).is_err());
        assert!(TicketId::parse(&id.reservation.to_string().to_uppercase()).is_err());
    }
}
