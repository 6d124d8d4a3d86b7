//! E-tickets and the door.
//!
//! - **Tickets** (`GET /reservations/{id}/tickets`): one per seat of a CONFIRMED reservation,
//!   each with its code signed now (Ed25519 is deterministic: the same code every time under
//!   one key). DynamoDB round trips: 2. A GetItem of the reservation, then one BatchGetItem of
//!   its seats' markers (when each was let in), with the date's catalog item added on the
//!   process's first look at that date (a sold date's sections never change, so they are kept).
//! - **Check-in** (`POST /admin/checkins`): the code is verified first, in the process, with
//!   no I/O, so a forged or altered code costs no store call. Then ONE conditional UpdateItem
//!   on the seat's SOLD marker marks it let in, only if it is still this reservation's and not
//!   let in yet: of any number of scans of one code, one succeeds. A refused write reads why
//!   from the marker as it was; only a marker that is no longer this reservation's costs one
//!   more read (the reservation: refunded, or unknown). The section named in the answer comes
//!   from the process's catalog (one GetItem on its first look at the date, before the write).
//!
//! A refund and a check-in of one seat are decided by their conditions on that marker: the
//! refund deletes it only while it has no `checkedInAt`, the check-in marks it only while it
//! exists, SOLD to the ticket's reservation. Whichever commits first, the other is refused and
//! writes nothing.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::catalog::Name;
use crate::domain::tickets::{Ticket, TicketId, TicketKeys};
use crate::domain::{ConcertDate, ReservationId, ReservationStatus, UserId};
use crate::error::{ApiError, Internal, StoreError};
use crate::flows::seats::{catalog, locked_catalog, remember};
use crate::metrics::{self, Metric, Refusal};
use crate::state::AppState;
use crate::store::items::HoldStatus;
use crate::store::tickets::CheckInOutcome;

/// One seat's ticket, as its holder sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedTicket {
    pub ticket: Ticket,
    pub section: Name,
    pub code: String,
    /// When the door let it in; None until then.
    pub checked_in_at: Option<DateTime<Utc>>,
}

/// A seat let in at the door.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedIn {
    pub ticket: Ticket,
    pub section: Name,
    pub checked_in_at: DateTime<Utc>,
}

/// The stack's ticket keys. A function the template gives no `TICKET_SIGNING_KEY` has none
/// (see [`crate::settings::Settings::ticket_keys`]): that is a deployment's bug, a 500.
pub fn keys(state: &AppState) -> Result<&TicketKeys, ApiError> {
    state.settings.ticket_keys.as_deref().ok_or_else(|| {
        ApiError::Internal(Internal::Bug(
            "TICKET_SIGNING_KEY is not set for this function".into(),
        ))
    })
}

/// The tickets of `user`'s reservation `id`, one per seat, by seat; only once it is paid.
pub async fn tickets(
    state: &AppState,
    user: &UserId,
    id: &ReservationId,
) -> Result<Vec<IssuedTicket>, ApiError> {
    let keys = keys(state)?;
    let r = state
        .db
        .get_reservation(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("reservation {id} does not exist")))?;
    if &r.user_id != user {
        return Err(ApiError::Forbidden(format!(
            "reservation {id} belongs to another user"
        )));
    }
    if r.status != ReservationStatus::Confirmed {
        return Err(ApiError::ReservationNotPaid(format!(
            "reservation {id} is not paid: it has no tickets"
        )));
    }
    let known = locked_catalog(state, &r.concert_id, &r.date);
    let (markers, date) = state.db.ticket_read(&r, known.is_none()).await?;
    let sections = match (known, date) {
        (Some(c), _) => c,
        (None, Some(d)) => remember(state, &r.concert_id, &d),
        (None, None) => return Err(gone(&r.concert_id, &r.date)),
    };
    r.seats()
        .into_iter()
        .map(|seat| {
            let ticket = Ticket {
                id: TicketId {
                    reservation: r.reservation_id,
                    seat,
                },
                concert: r.concert_id.clone(),
                date: r.date,
            };
            let section = sections
                .sections
                .section_of(seat)
                .ok_or_else(|| gone(&r.concert_id, &r.date))?
                .name
                .clone();
            // A marker that is no longer this sale's (a refund committing just now) shows
            // nothing; the door will say why.
            let checked_in_at = markers
                .iter()
                .find(|m| {
                    m.seat_no == seat
                        && m.status == HoldStatus::Sold
                        && m.reservation_id == r.reservation_id
                })
                .and_then(|m| m.checked_in_at);
            Ok(IssuedTicket {
                code: keys.sign(&ticket),
                ticket,
                section,
                checked_in_at,
            })
        })
        .collect()
}

/// A sold seat whose date or section is not in the catalog: our bug, not the buyer's.
fn gone(concert: &crate::domain::ConcertId, date: &ConcertDate) -> ApiError {
    StoreError::Unexpected(format!(
        "a reservation of {concert} on {date} has a seat its catalog does not have"
    ))
    .into()
}

/// Lets in the seat of ticket `code`, once. Every refusal is counted by reason.
pub async fn check_in(state: &AppState, code: &str) -> Result<CheckedIn, ApiError> {
    let outcome = admit(state, code).await;
    match &outcome {
        Ok(_) => metrics::count(Metric::CheckIns),
        Err(e) => {
            let reason = match e {
                ApiError::TicketInvalid(_) => Some(Refusal::TicketInvalid),
                ApiError::AlreadyCheckedIn { .. } => Some(Refusal::AlreadyCheckedIn),
                ApiError::TicketRefunded(_) => Some(Refusal::TicketRefunded),
                ApiError::NotFound(_) => Some(Refusal::UnknownTicket),
                // A store that failed refused nobody: that is ServerErrors' to count.
                _ => None,
            };
            if let Some(reason) = reason {
                metrics::refused_check_in(reason);
            }
        }
    }
    outcome
}

async fn admit(state: &AppState, code: &str) -> Result<CheckedIn, ApiError> {
    let now = Utc::now();
    let ticket = keys(state)?
        .verify(code, ConcertDate::from_naive(now.date_naive()))
        .map_err(|why| {
            tracing::debug!(reason = %why, "a ticket code was refused");
            ApiError::TicketInvalid("the code is not a ticket of this stack".into())
        })?;
    let sections = match locked_catalog(state, &ticket.concert, &ticket.date) {
        Some(c) => c,
        None => catalog(state, &ticket.concert, &ticket.date, true)
            .await?
            .ok_or_else(|| unknown(&ticket.id))?,
    };
    let section = sections
        .sections
        .section_of(ticket.seat())
        .ok_or_else(|| unknown(&ticket.id))?
        .name
        .clone();
    match state.db.check_in(&ticket, now, Uuid::new_v4()).await? {
        CheckInOutcome::CheckedIn { at } => Ok(CheckedIn {
            ticket,
            section,
            checked_in_at: at,
        }),
        CheckInOutcome::AlreadyCheckedIn { at } => Err(ApiError::AlreadyCheckedIn {
            what: format!("ticket {}", ticket.id),
            at,
        }),
        CheckInOutcome::NotSold(_) => {
            let r = state.db.get_reservation(&ticket.id.reservation).await?;
            match r.map(|r| r.status) {
                Some(ReservationStatus::Refunded) => Err(ApiError::TicketRefunded(format!(
                    "ticket {} is of a refunded reservation",
                    ticket.id
                ))),
                _ => Err(unknown(&ticket.id)),
            }
        }
    }
}

fn unknown(id: &TicketId) -> ApiError {
    ApiError::NotFound(format!("ticket {id} is not a seat sold here"))
}

/// The public keys a gate verifies codes with, as of today: no I/O.
pub fn published(state: &AppState) -> Result<Vec<crate::domain::tickets::PublicKey>, ApiError> {
    Ok(keys(state)?.published(ConcertDate::today_utc()))
}
