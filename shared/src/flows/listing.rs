//! A buyer's reservations of every concert, newest first, a page at a time (`GET
//! /users/{userId}/reservations`). DynamoDB round trips: 1, a Query of the `ByUser` index;
//! never a Scan.

use chrono::Utc;

use crate::domain::paging::{PageLimit, Position};
use crate::domain::{Reservation, UserId};
use crate::error::ApiError;
use crate::state::AppState;

/// One page, and where the next starts (None: this was the last).
#[derive(Debug, Clone)]
pub struct Page {
    pub reservations: Vec<Reservation>,
    pub next: Option<Position>,
}

/// `user`'s reservations after `after`, each as `GET /reservations/{id}` shows it (a lapsed
/// hold reads EXPIRED).
pub async fn list(
    state: &AppState,
    user: &UserId,
    limit: PageLimit,
    after: Option<Position>,
) -> Result<Page, ApiError> {
    let listed = state
        .db
        .reservations_of(user, limit, after.as_ref())
        .await?;
    let now = Utc::now();
    let next = if listed.more {
        listed.reservations.last().map(|r| r.position())
    } else {
        None
    };
    Ok(Page {
        reservations: listed
            .reservations
            .iter()
            .map(|r| Reservation::from(r).as_of(now))
            .collect(),
        next,
    })
}
