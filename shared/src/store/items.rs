//! Every DynamoDB key format and item shape, and nothing else. Items are (de)serialized with
//! serde_dynamo; no other module builds keys or attribute maps by hand.
//!
//! One table. Item types (PK / SK):
//! - Concert      `CONCERT#{concertId}` / `CONCERT`
//! - Date         `CONCERT#{concertId}` / `DATE#{date}`
//! - Seat         `SEATS#{concertId}#{date}` / `SEAT#{seatNo:04}` (catalog: the price)
//! - Hold marker  `SEATS#{concertId}#{date}` / `SEAT#{seatNo:04}#HOLD` (the seat's lock: HELD
//!   with an expiry and a TTL, or SOLD for good)
//! - Reservation  `RESERVATION#{reservationId}` / `RESERVATION`
//! - Token        `TOKEN#{token}` / `TOKEN` (audit of every token issued)

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{ConcertDate, ConcertId, QueueToken, SeatNo, UserId, Won};

pub mod keys {
    use super::*;

    pub fn concert_pk(concert: &ConcertId) -> String {
        format!("CONCERT#{concert}")
    }
    pub const CONCERT_SK: &str = "CONCERT";
    pub const DATE_SK_PREFIX: &str = "DATE#";
    pub fn date_sk(date: &ConcertDate) -> String {
        format!("{DATE_SK_PREFIX}{date}")
    }
    /// One partition per performance date: its seats and their holds, read by one Query.
    pub fn seats_pk(concert: &ConcertId, date: &ConcertDate) -> String {
        format!("SEATS#{concert}#{date}")
    }
    pub fn seat_sk(seat: SeatNo) -> String {
        format!("SEAT#{:04}", seat.get())
    }
    pub fn hold_sk(seat: SeatNo) -> String {
        format!("SEAT#{:04}#HOLD", seat.get())
    }
    pub fn token_pk(token: &QueueToken) -> String {
        format!("TOKEN#{token}")
    }
    pub const TOKEN_SK: &str = "TOKEN";
}

/// Which kind of item this is; also what the stream filter selects on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Entity {
    Concert,
    Date,
    Seat,
    Hold,
    Reservation,
    Token,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConcertItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: Entity,
    pub concert_id: ConcertId,
}

impl ConcertItem {
    pub fn new(concert: &ConcertId) -> Self {
        Self {
            pk: keys::concert_pk(concert),
            sk: keys::CONCERT_SK.to_owned(),
            entity: Entity::Concert,
            concert_id: concert.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DateItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: Entity,
    pub concert_id: ConcertId,
    pub date: ConcertDate,
    pub seat_count: u16,
}

impl DateItem {
    pub fn new(concert: &ConcertId, date: ConcertDate, seat_count: u16) -> Self {
        Self {
            pk: keys::concert_pk(concert),
            sk: keys::date_sk(&date),
            entity: Entity::Date,
            concert_id: concert.clone(),
            date,
            seat_count,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeatItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: Entity,
    pub seat_no: SeatNo,
    pub price: Won,
}

impl SeatItem {
    pub fn new(concert: &ConcertId, date: ConcertDate, seat: SeatNo, price: Won) -> Self {
        Self {
            pk: keys::seats_pk(concert, &date),
            sk: keys::seat_sk(seat),
            entity: Entity::Seat,
            seat_no: seat,
            price,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: Entity,
    pub token: QueueToken,
    pub user_id: UserId,
    pub concert_id: ConcertId,
    pub issued_at: DateTime<Utc>,
}

impl TokenItem {
    pub fn new(
        token: QueueToken,
        user: &UserId,
        concert: &ConcertId,
        issued_at: DateTime<Utc>,
    ) -> Self {
        Self {
            pk: keys::token_pk(&token),
            sk: keys::TOKEN_SK.to_owned(),
            entity: Entity::Token,
            token,
            user_id: user.clone(),
            concert_id: concert.clone(),
            issued_at,
        }
    }
}
