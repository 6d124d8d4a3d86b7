//! A reservation as the rules see it: who holds which seat until when, and where it stands.

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
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub reservation_id: ReservationId,
    pub user_id: UserId,
    pub concert_id: ConcertId,
    pub date: ConcertDate,
    pub seat_no: SeatNo,
    pub price: Won,
    pub status: ReservationStatus,
    pub expires_at: DateTime<Utc>,
}

impl Reservation {
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
