//! My reservations, e-tickets and the door, over HTTP through the local server against
//! DynamoDB Local and Redis: the buyer's list a page at a time (0, 1, a page, a page and one;
//! cursors altered or another user's), the list index added to a table made before it, each
//! paid seat's ticket and its code (one changed byte anywhere, or another key, is
//! TICKET_INVALID with no store call; a code checked offline with only the JWKS by Node's own
//! crypto), the door (once, however many scans race; a refund and a scan of one seat, raced
//! many times, end with exactly one of them and the invariants whole), and each route's round
//! trips.

#[path = "../common/mod.rs"]
mod common;
mod support;

mod backfill;
mod codes;
mod door;
mod listing;
mod offline;
mod races;
mod round_trips;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::{answer, assert_problem, spawn_app_with, unique, Answer, TestApp};
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};
use shared::domain::{ReservationId, UserId};
use shared::AppState;

use support::*;
