//! The operator's credential where there is no IAM in front (the local server):
//! `ADMIN_TOKEN`, presented as `Authorization: Bearer <token>`.
//!
//! Compared in constant time: both sides are MACed under a key drawn at start and the tags
//! compared with `ring::hmac::verify`, so neither the length nor the first differing byte of a
//! guess shows in the time it takes. It has no dots, so it never parses as a queue token, and a
//! queue token is never equal to it.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use ring::hmac;

use super::ids::Invalid;

/// What `make run` generates when `ADMIN_TOKEN` is unset: `op_` and 256 random bits.
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("op_{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The configured operator token, kept only as a MAC.
#[derive(Clone)]
pub struct OperatorToken {
    key: hmac::Key,
    tag: hmac::Tag,
}

impl OperatorToken {
    /// 32 to 256 characters of `[A-Za-z0-9_-]`: as long as a strong secret needs, and no
    /// character a shell or a header would mangle.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let ok_chars = raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !(32..=256).contains(&raw.len()) || !ok_chars {
            return Err(Invalid(
                "must be 32 to 256 characters of A-Z, a-z, 0-9, _ and -",
            ));
        }
        let mut seed = [0u8; 32];
        rand::rng().fill_bytes(&mut seed);
        let key = hmac::Key::new(hmac::HMAC_SHA256, &seed);
        let tag = hmac::sign(&key, raw.as_bytes());
        Ok(Self { key, tag })
    }

    /// Whether `presented` is the token, in time independent of where they differ.
    pub fn verify(&self, presented: &str) -> bool {
        hmac::verify(&self.key, presented.as_bytes(), self.tag.as_ref()).is_ok()
    }
}

impl fmt::Debug for OperatorToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OperatorToken(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_token_itself_verifies() {
        let raw = generate();
        let token = OperatorToken::parse(&raw).unwrap();
        assert!(token.verify(&raw));
        assert!(!token.verify(&raw[..raw.len() - 1]));
        assert!(!token.verify(&format!("{raw}x")));
        assert!(!token.verify(""));
    }

    #[test]
    fn a_short_or_odd_token_is_refused() {
        assert!(OperatorToken::parse("short").is_err());
        assert!(OperatorToken::parse(&"a.b".repeat(20)).is_err());
        assert!(OperatorToken::parse(&"k".repeat(32)).is_ok());
    }

    #[test]
    fn a_generated_token_never_parses_as_a_queue_token() {
        assert!(!generate().contains('.'));
    }
}
