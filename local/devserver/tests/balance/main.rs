//! Flow 4, the balance, over HTTP through the local server against DynamoDB Local and Redis:
//! reading and charging, the token rules, bad input, the balance limit, Idempotency-Key replays
//! and reuse, and concurrent charges. The ledger and the idempotency records are read straight
//! from the table, so "nothing written" and "one entry per charge" are checked, not assumed.

#[path = "../common/mod.rs"]
mod common;
mod support;

mod bad_input;
mod bench;
mod charging;
mod concurrency;
mod idempotency;
mod round_trips;
mod tokens;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use shared::counting::Counter;
use std::time::Instant;

use common::Answer;
use common::{assert_problem, spawn_app_with, unique, TestApp};
use futures::future::join_all;
use reqwest::header::HeaderValue;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use shared::domain::{Amount, IdempotencyKey, QueueToken, UserId};
use shared::flows::balance::{self, ChargeRequest};
use shared::http::QUEUE_TOKEN;
use shared::store::dynamo::from_item;
use shared::store::items::{LedgerItem, LedgerKind};
use shared::AppState;

use support::*;
