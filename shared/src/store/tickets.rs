//! DynamoDB I/O for tickets: what a reservation's tickets show (its seats' markers, in one
//! read), and the check-in, one conditional write on the seat's SOLD marker
//! ([`CheckInOutcome`]).

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::tickets::Ticket;
use crate::error::StoreError;
use crate::store::dynamo::{from_item, key, s, sdk_error, Db};
use crate::store::items::{
    is_entity, keys, DateItem, Entity, HoldItem, HoldStatus, ReservationItem,
};

/// Attempts of a check-in that meets a transaction on its marker (AWS only: a refund of the
/// same seat committing that instant; DynamoDB Local runs one write at a time).
const CONFLICT_ATTEMPTS: u32 = 5;

/// How a check-in's write ended. Only `CheckedIn` wrote anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckInOutcome {
    /// The seat is let in as of `at`: by this write, or by this same scan's earlier attempt
    /// whose answer was lost (its `checkInId` is ours).
    CheckedIn { at: DateTime<Utc> },
    /// Another scan let it in first, at `at`.
    AlreadyCheckedIn { at: DateTime<Utc> },
    /// The seat is not sold to this ticket's reservation (refunded, or never sold): what
    /// the marker was, if there is one.
    NotSold(Option<HoldItem>),
}

impl Db {
    /// Marks the ticket's seat let in, once: `checkedInAt` and `checkInId` are set on its
    /// marker only if it is SOLD, to this ticket's reservation, and not let in yet. One
    /// UpdateItem; a failed condition answers with the marker as it was (ALL_OLD), which
    /// says why.
    pub async fn check_in(
        &self,
        ticket: &Ticket,
        at: DateTime<Utc>,
        scan: Uuid,
    ) -> Result<CheckInOutcome, StoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let sent = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(
                    keys::seats_pk(&ticket.concert, &ticket.date),
                    keys::hold_sk(ticket.seat()),
                )))
                .update_expression("SET #at = :at, #scan = :scan")
                .condition_expression(
                    "#status = :sold AND reservationId = :rid AND attribute_not_exists(#at)",
                )
                .expression_attribute_names("#status", "status")
                .expression_attribute_names("#at", HoldItem::CHECKED_IN_AT)
                .expression_attribute_names("#scan", HoldItem::CHECK_IN_ID)
                .expression_attribute_values(":sold", s("SOLD"))
                .expression_attribute_values(":rid", s(ticket.id.reservation.to_string()))
                .expression_attribute_values(":at", serde_dynamo::to_attribute_value(at)?)
                .expression_attribute_values(":scan", s(scan.to_string()))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
            let err = match sent {
                Ok(_) => return Ok(CheckInOutcome::CheckedIn { at }),
                Err(e) => e,
            };
            match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    let was = failed
                        .item()
                        .cloned()
                        .map(from_item::<HoldItem>)
                        .transpose()?;
                    return Ok(refused(ticket, scan, was));
                }
                Some(e) if e.is_transaction_conflict_exception() && attempt < CONFLICT_ATTEMPTS => {
                    let cap_ms = 10u64 << attempt;
                    let wait = rand::random_range(cap_ms / 2..=cap_ms);
                    tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
                }
                _ => return Err(sdk_error("UpdateItem", err)),
            }
        }
    }

    /// The markers of a reservation's seats, and the date's catalog item when `with_date`:
    /// one consistent BatchGetItem.
    pub async fn ticket_read(
        &self,
        r: &ReservationItem,
        with_date: bool,
    ) -> Result<(Vec<HoldItem>, Option<DateItem>), StoreError> {
        let mut wanted: Vec<_> = r
            .seats()
            .into_iter()
            .map(|seat| key(keys::seats_pk(&r.concert_id, &r.date), keys::hold_sk(seat)))
            .collect();
        if with_date {
            wanted.push(key(keys::concert_pk(&r.concert_id), keys::date_sk(&r.date)));
        }
        let mut markers = Vec::new();
        let mut date = None;
        for item in self.read_consistent(wanted, Vec::new()).await? {
            if is_entity(&item, Entity::Date) {
                date = Some(from_item(item)?);
            } else {
                markers.push(from_item(item)?);
            }
        }
        Ok((markers, date))
    }
}

/// What a check-in's failed condition means, from the marker as it was.
fn refused(ticket: &Ticket, scan: Uuid, was: Option<HoldItem>) -> CheckInOutcome {
    match was {
        Some(m) if m.status == HoldStatus::Sold && m.reservation_id == ticket.id.reservation => {
            match m.checked_in_at {
                Some(at) if m.check_in_id == Some(scan) => CheckInOutcome::CheckedIn { at },
                Some(at) => CheckInOutcome::AlreadyCheckedIn { at },
                // The condition failed on a marker that meets it: it changed in between,
                // which only a check-in does. Not ours to explain further.
                None => CheckInOutcome::NotSold(Some(m)),
            }
        }
        other => CheckInOutcome::NotSold(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::tickets::TicketId;
    use crate::domain::{ConcertDate, ConcertId, ReservationId, SeatNo, UserId, Won};

    fn ticket() -> (Ticket, ReservationItem) {
        let user = UserId::parse("u").unwrap();
        let concert = ConcertId::parse("c").unwrap();
        let date = ConcertDate::parse("2026-12-24").unwrap();
        let seat = SeatNo::new(7).unwrap();
        let r = ReservationItem::held(
            ReservationId::generate(),
            &user,
            &concert,
            date,
            seat,
            Won::new(1),
            Utc::now(),
            Utc::now(),
        );
        let t = Ticket {
            id: TicketId {
                reservation: r.reservation_id,
                seat,
            },
            concert,
            date,
        };
        (t, r)
    }

    fn sold(r: &ReservationItem, checked_in: Option<(DateTime<Utc>, Uuid)>) -> HoldItem {
        let mut m = HoldItem::held(r);
        m.status = HoldStatus::Sold;
        m.expires_at = None;
        m.ttl = None;
        m.checked_in_at = checked_in.map(|c| c.0);
        m.check_in_id = checked_in.map(|c| c.1);
        m
    }

    #[test]
    fn a_failed_check_in_is_read_from_the_marker_as_it_was() {
        let (t, r) = ticket();
        let (ours, theirs) = (Uuid::new_v4(), Uuid::new_v4());
        let at = Utc::now();
        assert_eq!(
            refused(&t, ours, Some(sold(&r, Some((at, theirs))))),
            CheckInOutcome::AlreadyCheckedIn { at }
        );
        assert_eq!(
            refused(&t, ours, Some(sold(&r, Some((at, ours))))),
            CheckInOutcome::CheckedIn { at },
            "our own write, whose answer was lost"
        );
        assert_eq!(refused(&t, ours, None), CheckInOutcome::NotSold(None));
        let (_, other) = ticket();
        let resold = sold(&other, Some((at, theirs)));
        assert_eq!(
            refused(&t, ours, Some(resold.clone())),
            CheckInOutcome::NotSold(Some(resold))
        );
        let held = HoldItem::held(&r);
        assert_eq!(
            refused(&t, ours, Some(held.clone())),
            CheckInOutcome::NotSold(Some(held))
        );
    }
}
