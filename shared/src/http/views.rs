//! Response bodies, exactly as the contract spells them.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::domain::queue::TokenStatus;

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
    pub status: crate::store::items::ReservationStatus,
    pub expires_at: String,
}

impl From<&crate::store::items::ReservationItem> for ReservationView {
    fn from(r: &crate::store::items::ReservationItem) -> Self {
        Self {
            reservation_id: r.reservation_id.to_string(),
            user_id: r.user_id.to_string(),
            concert_id: r.concert_id.to_string(),
            date: r.date.to_string(),
            seat_no: r.seat_no.get(),
            price: r.price.get(),
            status: r.status,
            expires_at: DateTime::<Utc>::from_timestamp_millis(r.expires_at)
                .map(instant)
                .unwrap_or_default(),
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
    pub fn new(user: &crate::domain::UserId, balance: crate::domain::Won) -> Self {
        Self {
            user_id: user.to_string(),
            balance: balance.get(),
        }
    }
}
