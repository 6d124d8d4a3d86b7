//! Flow 1, the waiting room, over HTTP through the local server against DynamoDB Local and
//! Redis: issuing, asking again, polling, admission when a slot frees, expiry of active and
//! idle tokens (waiting and ACTIVE), the live controls, the opening and its pre-queue, the
//! token errors, bad input, concurrency and an unreachable Redis.

#[path = "../common/mod.rs"]
mod common;
mod support;

mod admission;
mod bad_input;
mod concurrency;
mod controls;
mod fair_use;
mod idle;
mod idle_active;
mod issuing;
mod opening;
mod pacing;
mod redis_down;
mod token_errors;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::{assert_problem, spawn_app_with, unique, TestApp};
use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use shared::domain::{ConcertId, QueueToken};
use shared::store::scripts::LineKeys;

/// Tests that depend on timing (TTLs, idle times) take this for reading; the thousand-request
/// test takes it for writing, so its load never stretches another test's clock.
static TIMING: LazyLock<tokio::sync::RwLock<()>> = LazyLock::new(|| tokio::sync::RwLock::new(()));

const FIELDS: [&str; 9] = [
    "token",
    "userId",
    "concertId",
    "status",
    "position",
    "estimatedWaitSeconds",
    "activeUntil",
    "pollAfterSeconds",
    "opensAt",
];

use support::*;
