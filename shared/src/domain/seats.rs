//! Seats and holds: what a seat's lock means at a given instant.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SeatState {
    Available,
    Held,
    Sold,
}

/// The one expiry boundary: a hold counts while `now < expires_at`, and is over from the
/// instant `expires_at` itself. The seat map, the reservation's status, a new hold taking the
/// seat over, a payment and the release all use it (the store's conditions are
/// `HoldItem::LIVE_AT_NOW` and `LAPSED_AT_NOW`).
pub fn hold_is_live(expires_at_ms: i64, now_ms: i64) -> bool {
    now_ms < expires_at_ms
}

impl SeatState {
    /// A sale lasts; a hold counts only until its time is over, released yet or not.
    pub fn of(sold: bool, hold_expires_at_ms: Option<i64>, now_ms: i64) -> Self {
        match (sold, hold_expires_at_ms) {
            (true, _) => SeatState::Sold,
            (false, Some(expires)) if hold_is_live(expires, now_ms) => SeatState::Held,
            _ => SeatState::Available,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hold_past_its_time_is_available_before_any_release() {
        assert_eq!(
            SeatState::of(false, Some(1_000), 1_000),
            SeatState::Available
        );
        assert_eq!(SeatState::of(false, Some(1_001), 1_000), SeatState::Held);
        assert_eq!(SeatState::of(false, None, 1_000), SeatState::Available);
        assert_eq!(SeatState::of(true, None, 1_000), SeatState::Sold);
    }
}
