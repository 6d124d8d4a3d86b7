//! Flow 5, payment, over HTTP through the local server against DynamoDB Local and Redis: the
//! happy path and what it changes (seat, reservation, balance, ledger, token, waiting room),
//! every refusal and that it writes nothing, Idempotency-Key replays and reuse, the races
//! (one reservation paid 20 times at once, a payment racing the hold's expiry), and the
//! money invariants after a concurrent storm of charges and payments.
//!
//! A payment spends the payer's token, so anything a test does after a payment (a second
//! payment, a look at the seat map) goes through a new token, and the races and the storm call
//! the flows directly: those never look at the token, they only spend it.
//!
//! The test apps run neither the stream consumer nor the sweep, but another test binary may run
//! the table-wide sweep at the same time; the expiry tests allow for a release they did not ask
//! for (the contract says "released yet or not").

#[path = "../common/mod.rs"]
mod common;
mod support;

mod idempotency;
mod paying;
mod races;
mod refund;
mod refusals;
mod storm;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use common::Answer;
use common::{answer, assert_problem, spawn_app_with, text, unique, TestApp};
use futures::future::join_all;
use reqwest::header::HeaderValue;
use reqwest::StatusCode;
use serde_json::{json, Value};
use shared::domain::{
    Amount, ConcertDate, ConcertId, IdempotencyKey, PaymentId, QueueToken, Reservation,
    ReservationId, SeatNo, UserId,
};
use shared::flows::balance::{self, ChargeRequest};
use shared::flows::holds::{self, HoldRequest, Released};
use shared::flows::payments::{self, Paid, PayRequest};
use shared::http::views::PaymentView;
use shared::store::dynamo::from_item;
use shared::store::items::{keys, LedgerItem, LedgerKind, ReservationStatus};
use shared::store::seats::HoldRef;
use shared::{ApiError, AppState};

type Item = HashMap<String, AttributeValue>;

const PRICE: u64 = 50_000;

const PAYMENT_FIELDS: [&str; 7] = [
    "paymentId",
    "reservationId",
    "userId",
    "amount",
    "balance",
    "status",
    "paidAt",
];

use support::*;
