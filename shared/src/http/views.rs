//! Response bodies, exactly as the contract spells them, built from the flows' results.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::domain::queue::TokenStatus;
use crate::domain::seats::SeatState;
use crate::domain::{ConcertDate, ConcertId, Reservation, ReservationStatus, UserId, Won};
use crate::flows::balance::Charged;
use crate::flows::payments::Paid;
use crate::flows::seats::Seat;

pub fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `POST /queue/tokens` and `GET /queue/status`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenView {
    pub token: String,
    pub user_id: String,
    pub concert_id: String,
    pub status: &'static str,
    pub position: u64,
    pub estimated_wait_seconds: Option<u64>,
    pub active_until: Option<String>,
    /// Always present: null once ACTIVE.
    pub poll_after_seconds: Option<u64>,
}

impl From<&TokenStatus> for TokenView {
    fn from(s: &TokenStatus) -> Self {
        Self {
            token: s.token.to_string(),
            user_id: s.user_id.to_string(),
            concert_id: s.concert_id.to_string(),
            status: if s.is_active() { "ACTIVE" } else { "WAITING" },
            position: s.position(),
            estimated_wait_seconds: s.estimated_wait_seconds(),
            active_until: s.active_until().map(instant),
            poll_after_seconds: s.poll_after_seconds,
        }
    }
}

/// A reservation, as `POST /reservations` and `GET /reservations/{id}` answer it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReservationView {
    pub reservation_id: String,
    pub user_id: String,
    pub concert_id: String,
    pub date: String,
    pub seat_no: u16,
    pub price: u64,
    pub status: ReservationStatus,
    pub expires_at: String,
}

impl From<&Reservation> for ReservationView {
    fn from(r: &Reservation) -> Self {
        Self {
            reservation_id: r.reservation_id.to_string(),
            user_id: r.user_id.to_string(),
            concert_id: r.concert_id.to_string(),
            date: r.date.to_string(),
            seat_no: r.seat_no.get(),
            price: r.price.get(),
            status: r.status,
            expires_at: instant(r.expires_at),
        }
    }
}

/// `GET /users/{userId}/balance` and `POST /users/{userId}/balance/charges`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BalanceView {
    pub user_id: String,
    pub balance: u64,
}

impl BalanceView {
    pub fn new(user: &UserId, balance: Won) -> Self {
        Self {
            user_id: user.to_string(),
            balance: balance.get(),
        }
    }
}

impl From<&Charged> for BalanceView {
    fn from(c: &Charged) -> Self {
        Self::new(&c.user_id, c.balance)
    }
}

/// `POST /payments`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentView {
    pub payment_id: String,
    pub reservation_id: String,
    pub user_id: String,
    pub amount: u64,
    pub balance: u64,
    pub status: &'static str,
    pub paid_at: String,
}

impl From<&Paid> for PaymentView {
    fn from(p: &Paid) -> Self {
        Self {
            payment_id: p.payment_id.to_string(),
            reservation_id: p.reservation_id.to_string(),
            user_id: p.user_id.to_string(),
            amount: p.amount.get(),
            balance: p.balance.get(),
            status: "COMPLETED",
            paid_at: instant(p.paid_at),
        }
    }
}

/// `GET /concerts/{concertId}/dates/{date}/seats`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeatsView {
    pub concert_id: ConcertId,
    pub date: ConcertDate,
    pub seats: Vec<SeatView>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeatView {
    pub seat_no: u16,
    pub price: u64,
    pub status: SeatState,
}

impl SeatsView {
    pub fn new(concert_id: ConcertId, date: ConcertDate, seats: &[Seat]) -> Self {
        Self {
            concert_id,
            date,
            seats: seats
                .iter()
                .map(|s| SeatView {
                    seat_no: s.seat_no.get(),
                    price: s.price.get(),
                    status: s.status,
                })
                .collect(),
        }
    }
}
