//! Money is an integer number of won, never a float.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ids::Invalid;

/// A non-negative sum of won (a balance, a price).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Won(u64);

impl Won {
    pub const ZERO: Won = Won(0);
    /// The highest balance a user may hold.
    pub const BALANCE_LIMIT: Won = Won(1_000_000_000);

    pub fn new(won: u64) -> Self {
        Self(won)
    }
    pub fn get(&self) -> u64 {
        self.0
    }
}
impl fmt::Display for Won {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} won", self.0)
    }
}

/// A price for a seat, 1 to 10,000,000 won.
pub fn parse_price(won: i64) -> Result<Won, Invalid> {
    if (1..=10_000_000).contains(&won) {
        Ok(Won(won as u64))
    } else {
        Err(Invalid("must be a price from 1 to 10000000 won"))
    }
}

/// A seat's price as a request gives it: 1 to 10,000,000 won.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "i64")]
pub struct Price(Won);

impl Price {
    pub fn won(&self) -> Won {
        self.0
    }
}
impl TryFrom<i64> for Price {
    type Error = Invalid;
    fn try_from(won: i64) -> Result<Self, Invalid> {
        parse_price(won).map(Price)
    }
}

/// One charge: 1 to 10,000,000 won.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "u64")]
pub struct Amount(u64);

impl Amount {
    pub const MAX: u64 = 10_000_000;
    pub fn new(won: i64) -> Result<Self, Invalid> {
        if (1..=Self::MAX as i64).contains(&won) {
            Ok(Self(won as u64))
        } else {
            Err(Invalid("must be an integer from 1 to 10000000"))
        }
    }
    pub fn won(&self) -> Won {
        Won(self.0)
    }
}
impl TryFrom<i64> for Amount {
    type Error = Invalid;
    fn try_from(n: i64) -> Result<Self, Invalid> {
        Self::new(n)
    }
}
impl From<Amount> for u64 {
    fn from(a: Amount) -> u64 {
        a.0
    }
}

impl Won {
    /// The balance after charging `amount`, or `None` when it would pass
    /// [`Won::BALANCE_LIMIT`] (reaching it exactly is allowed).
    pub fn charged(self, amount: Amount) -> Option<Won> {
        self.0
            .checked_add(amount.0)
            .map(Won)
            .filter(|after| *after <= Won::BALANCE_LIMIT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_bounded_by_the_contract() {
        assert!(Amount::new(0).is_err());
        assert!(Amount::new(1).is_ok());
        assert!(Amount::new(10_000_000).is_ok());
        assert!(Amount::new(10_000_001).is_err());
        assert!(Amount::new(-5).is_err());
    }

    #[test]
    fn a_charge_may_reach_the_balance_limit_but_not_pass_it() {
        let big = Amount::new(10_000_000).unwrap();
        assert_eq!(Won::new(990_000_000).charged(big), Some(Won::BALANCE_LIMIT));
        assert_eq!(Won::new(990_000_001).charged(big), None);
        assert_eq!(Won::new(u64::MAX).charged(big), None);
        assert_eq!(
            Won::ZERO.charged(Amount::new(1).unwrap()),
            Some(Won::new(1))
        );
    }
}
