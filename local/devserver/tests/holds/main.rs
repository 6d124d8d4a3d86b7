//! Flows 2, 3 and 6 over HTTP through the local server against DynamoDB Local and Redis:
//! dates and seat maps, seat holds and reading them back, the races on one seat and on one
//! date, expiry without any release, the sweep, the stream release function (called with
//! Lambda's own event shape), and the dates cache.
//!
//! The test apps run neither the stream consumer nor the sweep. DynamoDB Local may still
//! TTL-delete hold markers by itself, and the sweep is global to the table, so the sweep tests
//! take [`TIMING`] for writing: no test that asserts "before any release ran" overlaps them.
//! Tests that call `release` (or the stream function) themselves write reservations without
//! `heldShard`, so no sweep can find them, and markers whose `ttl` is far off, so TTL cannot
//! delete them: what they assert is what their own call did.

#[path = "../common/mod.rs"]
mod common;
mod support;

mod dates;
mod expiry;
mod holding;
mod idempotent_hold;
mod limit;
mod multi_seat;
mod races;
mod reading;
mod refusals;
mod release;
mod release_by_holder;
mod seat_map;
mod stream_function;
mod sweep;

use std::collections::{BTreeSet, HashMap};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use common::{answer, assert_problem, spawn_app, spawn_app_with, text, unique, TestApp};
use futures::future::join_all;
use lambda_runtime::{Context, LambdaEvent};
use reqwest::StatusCode;
use serde_json::{json, Value};
use shared::domain::{ConcertDate, ConcertId, ReservationId, SeatNo, UserId, Won};
use shared::flows::holds::{release, sweep, Released};
use shared::store::dynamo::to_item;
use shared::store::items::{keys, HoldItem, HoldStatus, ReservationItem, ReservationStatus};
use shared::store::scripts::{ReadCache, View};
use shared::store::seats::HoldRef;

/// Every test takes this for reading. The load tests take it for writing, so their thousands
/// of transactions never stretch another test's requests past the store timeout; so do the
/// sweep tests, because the sweep is global to the table and would release the lapsed holds
/// of the tests that assert "before any release ran".
static TIMING: LazyLock<tokio::sync::RwLock<()>> = LazyLock::new(|| tokio::sync::RwLock::new(()));

const RESERVATION_FIELDS: [&str; 9] = [
    "reservationId",
    "userId",
    "concertId",
    "date",
    "seatNo",
    "seatNos",
    "price",
    "status",
    "expiresAt",
];

type Item = HashMap<String, AttributeValue>;

use support::*;
