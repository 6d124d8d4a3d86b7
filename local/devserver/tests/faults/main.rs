//! Fault tests: the stores fail under the running app, which must keep answering (503
//! `SERVICE_UNAVAILABLE` with `Retry-After`, never a 500, never a hang), write nothing by
//! halves, and recover on its own when the store comes back.
//!
//! Each test starts its own DynamoDB Local and redis-server as child processes, on ports of its
//! own (8700–8799 and 6390–6489, away from `make test`'s 8100/6380), stops and kills them by
//! PID, and removes its data folder. The app is the real one (`devserver::app`), on the default
//! settings but `STORE_TIMEOUT_MS=500`, with the SDK timeouts and retries of
//! `AppState::dynamodb_config` and a DynamoDB client pinned to the test's own server, whatever
//! `AWS_ENDPOINT_URL_DYNAMODB` says (under `make test` it names the shared stack).
//!
//! The fourth fault of the list, a release batch in which one record fails reporting only that
//! record for retry, is covered in `tests/holds/stream_function.rs`:
//! `a_batch_reports_only_the_failed_record_and_releases_the_rest`.

mod app;
mod door;
mod dynamodb;
mod redis_down;
mod stack;
mod stored;
mod traffic;

use app::*;
use stack::*;
use stored::*;
use traffic::*;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::{Credentials, Region};
use chrono::Utc;
use futures::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};
use shared::domain::{ConcertDate, ConcertId, Won};
use shared::settings::Settings;
use shared::store::dynamo::{from_item, Db, Item};
use shared::store::items::{
    HoldItem, HoldStatus, IdempotencyItem, LedgerItem, LedgerKind, PaymentItem, ReservationItem,
    ReservationStatus,
};
use shared::store::schema;
use shared::AppState;

/// What the app waits on a store before it answers 503.
const STORE_TIMEOUT_MS: &str = "500";
/// The longest a 503 may take: ten times the store timeout, so a slow machine passes and a
/// hang does not.
const BOUND: Duration = Duration::from_secs(5);
const PRICE: u64 = 50_000;
