//! Response bodies, exactly as the contract spells them, built from the flows' results.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::domain::queue::TokenStatus;
use crate::domain::seats::SeatState;
use crate::domain::tickets::PublicKey;
use crate::domain::{
    ConcertDate, ConcertId, Reservation, ReservationId, ReservationStatus, UserId, Won,
};
use crate::flows::balance::Charged;
use crate::flows::catalog::{ConcertReport, QueueFigures};
use crate::flows::listing::Page;
use crate::flows::payments::Paid;
use crate::flows::refunds::Refunded;
use crate::flows::seats::Seat;
use crate::flows::tickets::{CheckedIn, IssuedTicket};
use crate::store::catalog::StoredConcert;

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
    /// Null before the opening.
    pub position: Option<u64>,
    pub estimated_wait_seconds: Option<u64>,
    pub active_until: Option<String>,
    /// Always present: null once ACTIVE.
    pub poll_after_seconds: Option<u64>,
    /// Always present: null when there is no opening or it has passed.
    pub opens_at: Option<String>,
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
            opens_at: s.opens_at.map(instant),
        }
    }
}

/// A reservation, as `POST /reservations`, `GET` and `DELETE /reservations/{id}` answer it:
/// `seatNos` always, `seatNo` too for a reservation of one seat.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReservationView {
    pub reservation_id: String,
    pub user_id: String,
    pub concert_id: String,
    pub date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seat_no: Option<u16>,
    pub seat_nos: Vec<u16>,
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
            seat_no: r.single_seat().map(|s| s.get()),
            seat_nos: r.seat_nos.iter().map(|s| s.get()).collect(),
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

/// `POST /reservations/{reservationId}/refund`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundView {
    pub reservation_id: String,
    pub user_id: String,
    pub amount: u64,
    pub balance: u64,
    pub status: &'static str,
    pub refunded_at: String,
}

impl From<&Refunded> for RefundView {
    fn from(r: &Refunded) -> Self {
        Self {
            reservation_id: r.reservation_id.to_string(),
            user_id: r.user_id.to_string(),
            amount: r.amount.get(),
            balance: r.balance.get(),
            status: "REFUNDED",
            refunded_at: instant(r.refunded_at),
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
    pub section: String,
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
                    section: s.section.to_string(),
                    price: s.price.get(),
                    status: s.status,
                })
                .collect(),
        }
    }
}

/// A section as the operator API shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SectionView {
    pub name: String,
    pub from_seat: u16,
    pub to_seat: u16,
    pub price: u64,
}

/// One date of a concert as stored, with its counts when the answer has them.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminDateView {
    pub date: ConcertDate,
    pub sections: Vec<SectionView>,
    pub seats: u32,
    /// Whether a seat of it was ever held: its sections can no longer change.
    pub locked: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sold: Option<u32>,
}

/// `queue` of the operator API.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueView {
    /// The three counts are null when the line could not be read just then.
    pub waiting: Option<u64>,
    pub active: Option<u64>,
    pub active_limit: u32,
    pub paused: bool,
    pub admitted_last_minute: Option<u64>,
    pub opens_at: Option<String>,
}

impl From<&QueueFigures> for QueueView {
    fn from(q: &QueueFigures) -> Self {
        Self {
            waiting: q.line.map(|l| l.waiting),
            active: q.line.map(|l| l.active),
            active_limit: q.active_limit,
            paused: q.paused,
            admitted_last_minute: q.line.map(|l| l.admitted_last_minute),
            opens_at: q.opens_at.map(instant),
        }
    }
}

/// `PUT` and `GET /admin/concerts/{concertId}`: the concert as stored; GET adds `queue` and
/// each date's counts.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminConcertView {
    pub concert_id: String,
    pub name: String,
    pub opens_at: Option<String>,
    pub revision: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueView>,
    pub dates: Vec<AdminDateView>,
}

impl AdminConcertView {
    /// The concert as stored.
    pub fn stored(s: &StoredConcert) -> Self {
        let c = &s.concert;
        Self {
            concert_id: c.concert_id.to_string(),
            name: c
                .name
                .as_ref()
                .map_or_else(|| c.concert_id.to_string(), ToString::to_string),
            opens_at: c.opens_at.map(instant),
            revision: c.revision,
            queue: None,
            dates: s
                .dates
                .iter()
                .map(|d| AdminDateView {
                    date: d.date,
                    sections: d
                        .sections
                        .iter()
                        .map(|x| SectionView {
                            name: x.name.to_string(),
                            from_seat: x.from_seat.get(),
                            to_seat: x.to_seat.get(),
                            price: x.price.get(),
                        })
                        .collect(),
                    seats: u32::from(d.seat_count),
                    locked: d.locked,
                    available: None,
                    held: None,
                    sold: None,
                })
                .collect(),
        }
    }

    /// The concert with its line and counts.
    pub fn report(r: &ConcertReport) -> Self {
        let mut view = Self::stored(&r.stored);
        view.queue = Some(QueueView::from(&r.queue));
        for (date, counts) in view.dates.iter_mut().zip(&r.counts) {
            date.available = Some(counts.available);
            date.held = Some(counts.held);
            date.sold = Some(counts.sold);
        }
        view
    }
}

/// `GET /users/{userId}/reservations`: a page of the user's reservations, newest first, each
/// as `GET /reservations/{id}` shows it; `nextCursor` null on the last page.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReservationListView {
    pub user_id: String,
    pub reservations: Vec<ReservationView>,
    pub next_cursor: Option<String>,
}

impl ReservationListView {
    /// `next_cursor`: the sealed position of the page's end, when there is more.
    pub fn new(user: &UserId, page: &Page, next_cursor: Option<String>) -> Self {
        Self {
            user_id: user.to_string(),
            reservations: page
                .reservations
                .iter()
                .map(ReservationView::from)
                .collect(),
            next_cursor,
        }
    }
}

/// One ticket of `GET /reservations/{reservationId}/tickets`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketView {
    pub ticket_id: String,
    pub reservation_id: String,
    pub concert_id: String,
    pub date: String,
    pub seat_no: u16,
    pub section: String,
    pub code: String,
    pub checked_in_at: Option<String>,
}

/// `GET /reservations/{reservationId}/tickets`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketsView {
    pub reservation_id: String,
    pub tickets: Vec<TicketView>,
}

impl TicketsView {
    pub fn new(reservation: &ReservationId, tickets: &[IssuedTicket]) -> Self {
        Self {
            reservation_id: reservation.to_string(),
            tickets: tickets
                .iter()
                .map(|t| TicketView {
                    ticket_id: t.ticket.id.to_string(),
                    reservation_id: t.ticket.id.reservation.to_string(),
                    concert_id: t.ticket.concert.to_string(),
                    date: t.ticket.date.to_string(),
                    seat_no: t.ticket.seat().get(),
                    section: t.section.to_string(),
                    code: t.code.clone(),
                    checked_in_at: t.checked_in_at.map(instant),
                })
                .collect(),
        }
    }
}

/// `POST /admin/checkins`: the seat let in.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckInView {
    pub ticket_id: String,
    pub concert_id: String,
    pub date: String,
    pub seat_no: u16,
    pub section: String,
    pub checked_in_at: String,
}

impl From<&CheckedIn> for CheckInView {
    fn from(c: &CheckedIn) -> Self {
        Self {
            ticket_id: c.ticket.id.to_string(),
            concert_id: c.ticket.concert.to_string(),
            date: c.ticket.date.to_string(),
            seat_no: c.ticket.seat().get(),
            section: c.section.to_string(),
            checked_in_at: instant(c.checked_in_at),
        }
    }
}

/// `GET /.well-known/ticket-keys.json`: a JWKS (RFC 7517) of OKP/Ed25519 keys (RFC 8037).
#[derive(Debug, Serialize)]
pub struct JwksView {
    pub keys: Vec<JwkView>,
}

#[derive(Debug, Serialize)]
pub struct JwkView {
    pub kty: &'static str,
    pub crv: &'static str,
    pub alg: &'static str,
    #[serde(rename = "use")]
    pub usage: &'static str,
    pub kid: String,
    pub x: String,
}

impl JwksView {
    pub fn new(keys: &[PublicKey]) -> Self {
        Self {
            keys: keys
                .iter()
                .map(|k| JwkView {
                    kty: "OKP",
                    crv: "Ed25519",
                    alg: "EdDSA",
                    usage: "sig",
                    kid: k.kid.clone(),
                    x: k.x.clone(),
                })
                .collect(),
        }
    }
}
