//! Queue tokens that prove their own origin. A token is `<concertId>.<id>.<mac>`:
//! - `id`: 128 random bits (22 characters of base64url), the token's name in its line;
//! - `mac`: HMAC-SHA256 of `<concertId>.<id>` under the deployment's key (`QUEUE_TOKEN_KEY`),
//!   cut to 128 bits (22 characters).
//!
//! So a forged, garbled or foreign token is refused without any store read, a token the line
//! no longer knows is known to be ours (TOKEN_EXPIRED, not TOKEN_INVALID), and the concert in
//! it names the Redis slot of its line, found in one round trip. Clients never parse it; at
//! most 64 + 1 + 22 + 1 + 22 = 110 characters, within the contract's 128.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use ring::hmac;

use super::ids::{ConcertId, QueueToken};

const ID_BYTES: usize = 16;
const MAC_BYTES: usize = 16;
/// base64url of 16 bytes, unpadded.
const PART_LEN: usize = 22;

/// A token's random name: what the line stores. Never leaves the server on its own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenId(String);

impl TokenId {
    pub fn generate() -> Self {
        let mut bytes = [0u8; ID_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// An ID as the line stored it.
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = raw.len() == PART_LEN
            && URL_SAFE_NO_PAD
                .decode(raw)
                .is_ok_and(|b| b.len() == ID_BYTES);
        ok.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A token we issued: its concert and its ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedToken {
    pub concert: ConcertId,
    pub id: TokenId,
}

/// The key that signs and checks tokens. Its Debug never shows it.
#[derive(Clone)]
pub struct TokenKey(hmac::Key);

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

impl TokenKey {
    /// At least this many bytes of secret.
    pub const MIN_LEN: usize = 32;

    pub fn from_secret(secret: &[u8]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }

    /// A key of this process alone (a local server without `QUEUE_TOKEN_KEY`).
    pub fn random() -> Self {
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        Self::from_secret(&secret)
    }

    fn mac(&self, concert: &ConcertId, id: &TokenId) -> String {
        let mut ctx = hmac::Context::with_key(&self.0);
        ctx.update(concert.as_str().as_bytes());
        ctx.update(b".");
        ctx.update(id.as_str().as_bytes());
        URL_SAFE_NO_PAD.encode(&ctx.sign().as_ref()[..MAC_BYTES])
    }

    pub fn sign(&self, concert: &ConcertId, id: &TokenId) -> QueueToken {
        let raw = format!("{concert}.{id}.{}", self.mac(concert, id));
        QueueToken::parse(&raw).expect("a signed token is a well-formed token")
    }

    /// The token's concert and ID if this key signed it.
    pub fn verify(&self, token: &QueueToken) -> Option<SignedToken> {
        let mut parts = token.as_str().split('.');
        let (concert, id, mac) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || mac.len() != PART_LEN {
            return None;
        }
        let concert = ConcertId::parse(concert).ok()?;
        let id = TokenId::parse(id)?;
        same(self.mac(&concert, &id).as_bytes(), mac.as_bytes())
            .then_some(SignedToken { concert, id })
    }
}

/// Compares in time independent of where the bytes differ, so the MAC cannot be found byte by
/// byte from response times.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn concert() -> ConcertId {
        ConcertId::parse("jazz-night_2026").unwrap()
    }

    #[test]
    fn a_signed_token_verifies_to_its_concert_and_id() {
        let key = TokenKey::random();
        let id = TokenId::generate();
        let token = key.sign(&concert(), &id);
        assert_eq!(
            key.verify(&token),
            Some(SignedToken {
                concert: concert(),
                id
            })
        );
    }

    #[test]
    fn a_token_of_the_longest_concert_id_fits_the_contracts_128_characters() {
        let long = ConcertId::parse(&"c".repeat(64)).unwrap();
        let token = TokenKey::random().sign(&long, &TokenId::generate());
        assert_eq!(token.as_str().len(), 110);
    }

    #[test]
    fn another_key_a_changed_part_or_a_uuid_does_not_verify() {
        let key = TokenKey::random();
        let token = key.sign(&concert(), &TokenId::generate());
        assert_eq!(TokenKey::random().verify(&token), None);
        let raw = token.as_str();
        let other_concert = raw.replacen("jazz", "rock", 1);
        let mut flipped = raw.to_owned();
        let last = flipped.pop().unwrap();
        flipped.push(if last == 'A' { 'B' } else { 'A' });
        for forged in [
            other_concert.as_str(),
            flipped.as_str(),
            "6f1c2a7e-4b3d-4e8a-9c5f-0d2b7a61e934",
            "a.b.c",
            &format!("{raw}.x"),
        ] {
            let forged = QueueToken::parse(forged).unwrap();
            assert_eq!(key.verify(&forged), None, "{forged}");
        }
    }

    #[test]
    fn ids_hold_128_random_bits() {
        let a = TokenId::generate();
        assert_eq!(a.as_str().len(), 22);
        assert_ne!(a, TokenId::generate());
        assert!(TokenId::parse(a.as_str()).is_some());
        assert!(TokenId::parse("short").is_none());
    }
}
