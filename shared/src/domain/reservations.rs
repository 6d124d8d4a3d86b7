//! A reservation as the rules see it: who holds which seats until when, and where it stands.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::seats::hold_is_live;
use crate::domain::{ConcertDate, ConcertId, ReservationId, SeatNo, UserId, Won};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReservationStatus {
    Held,
    Confirmed,
    Expired,
    /// Released by its holder before its time ran out.
    Released,
    /// Paid, then refunded.
    Refunded,
}

/// Also what a keyed hold's record keeps (its JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reservation {
    pub reservation_id: ReservationId,
    pub user_id: UserId,
    pub concert_id: ConcertId,
    pub date: ConcertDate,
    /// Every seat, ascending (at least one).
    pub seat_nos: Vec<SeatNo>,
    pub price: Won,
    pub status: ReservationStatus,
    pub expires_at: DateTime<Utc>,
}

impl Reservation {
    /// Its one seat, for a reservation of one seat.
    pub fn single_seat(&self) -> Option<SeatNo> {
        match self.seat_nos.as_slice() {
            [only] => Some(*only),
            _ => None,
        }
    }

    /// As its owner may see it at `now`: a HELD reservation is EXPIRED as soon as its time ran
    /// out, released yet or not.
    pub fn as_of(mut self, now: DateTime<Utc>) -> Self {
        if self.status == ReservationStatus::Held
            && !hold_is_live(self.expires_at.timestamp_millis(), now.timestamp_millis())
        {
            self.status = ReservationStatus::Expired;
        }
        self
    }
}
