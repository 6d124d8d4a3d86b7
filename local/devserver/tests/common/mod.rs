//! `spawn_app`: the real app on a free port, against the DynamoDB Local and Redis that
//! `make test` started. Each app gets its own Redis key prefix and its own concert, so tests
//! run in parallel on one shared table.
//!
//! The requests go through `api-client` ([`TestApp::api`]); [`TestApp::get`] and the `post_*`
//! methods are its raw requests, for the tests of bad input. What the tests read from the
//! tables directly, past the API, is in `tables.rs`.
#![allow(dead_code)]

mod tables;

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

pub use api_client::{Answer, Client};
use reqwest::header::HeaderValue;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use shared::domain::token::TokenId;
use shared::domain::{ConcertDate, ConcertId, QueueToken, Won};
use shared::settings::Settings;
use shared::AppState;
use tokio::sync::{Semaphore, SemaphorePermit};

#[allow(unused_imports)] // Not every test binary reads raw items.
pub use tables::text;

/// The store timeout of a test app, unless the test sets `STORE_TIMEOUT_MS` itself. DynamoDB
/// Local is one JVM that runs every transaction on one thread: with the other tests' bursts
/// queued ahead of it (100 concurrent charges of one user are ~1,400 transactions there) and
/// the machine busy, an operation can wait many seconds. The app's default (2 s, 4 s with the
/// SDK's retries) is for DynamoDB; tests about timeouts set their own.
pub const TEST_STORE_TIMEOUT_MS: &str = "30000";

/// The operator token of every test app.
pub const ADMIN_TOKEN: &str = "op_test-operator-token-0123456789abcdef";

/// At most this many store-heavy bursts (hundreds of concurrent requests) at once in one test
/// binary; see [`TestApp::burst`].
const BURSTS: usize = 1;

static BURST: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(BURSTS));

pub struct TestApp {
    pub base: String,
    /// The API over HTTP.
    pub api: Client,
    pub state: Arc<AppState>,
    /// A concert seeded for this app alone, with `dates` of 50 seats at 50,000 won.
    pub concert: String,
    pub dates: Vec<String>,
}

pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// An app whose server has no operator token (as in AWS, where IAM authorizes operators).
pub async fn spawn_app_without_admin() -> TestApp {
    spawn_app_with(&[("ADMIN_TOKEN", "")]).await
}

/// Settings come from the environment `make test` set, with `overrides` on top, and
/// [`TEST_STORE_TIMEOUT_MS`] unless `overrides` sets `STORE_TIMEOUT_MS`.
pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    let mut map: HashMap<String, String> = overrides
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    map.entry("REDIS_KEY_PREFIX".into())
        .or_insert_with(|| unique("t"));
    map.entry("ADMIN_TOKEN".into())
        .or_insert_with(|| ADMIN_TOKEN.into());
    map.entry("STORE_TIMEOUT_MS".into())
        .or_insert_with(|| TEST_STORE_TIMEOUT_MS.into());
    map.entry("TABLE_NAME".into()).or_insert_with(|| {
        std::env::var("TABLE_NAME").unwrap_or_else(|_| "concert-booking-test".into())
    });
    map.entry("RESERVATIONS_TABLE_NAME".into())
        .or_insert_with(|| {
            std::env::var("RESERVATIONS_TABLE_NAME")
                .unwrap_or_else(|_| "concert-booking-test-reservations".into())
        });
    // An empty ADMIN_TOKEN override: a server with no operator token at all.
    let settings = Settings::from_lookup(|k| match map.get(k) {
        Some(v) if k == "ADMIN_TOKEN" && v.is_empty() => None,
        Some(v) => Some(v.clone()),
        None => std::env::var(k).ok(),
    })
    .expect("test settings are valid");
    let state = Arc::new(AppState::new(settings).await.expect("state builds"));
    shared::store::schema::create_tables(&state.db)
        .await
        .expect("the table exists or is created");

    let concert = unique("concert");
    let today = ConcertDate::today_utc().naive();
    let dates: Vec<ConcertDate> = (1..=2)
        .map(|d| ConcertDate::from_naive(today + chrono::Days::new(d)))
        .collect();
    shared::flows::catalog::seed(
        &state.db,
        &ConcertId::parse(&concert).unwrap(),
        &dates,
        50,
        Won::new(50_000),
    )
    .await
    .expect("the catalog seeds");

    let app = devserver::app(state.clone()).expect("the router builds from template.yaml");
    let addr = devserver::server::spawn(app, 0)
        .await
        .expect("the server binds");
    let base = format!("http://{addr}");
    TestApp {
        api: Client::signing_in(&base).expect("the HTTP client builds"),
        base,
        state,
        concert,
        dates: dates.iter().map(|d| d.to_string()).collect(),
    }
}

/// A token signed with `state`'s key for `concert` that no line ever held.
pub fn stray_token(state: &AppState, concert: &str) -> QueueToken {
    let concert = ConcertId::parse(concert).expect("a concert ID");
    state
        .settings
        .queue_token_key
        .sign(&concert, &TokenId::generate())
}

impl TestApp {
    /// A token of this app's concert, signed as ours, that its line never held.
    pub fn stray_token(&self) -> QueueToken {
        stray_token(&self.state, &self.concert)
    }

    /// A token shaped like ours for this app's concert whose signature is wrong.
    pub fn forged_token(&self) -> String {
        let real = self.stray_token().to_string();
        let (body, _) = real
            .rsplit_once('.')
            .expect("a signed token has a signature");
        format!("{body}.{}", "A".repeat(22))
    }

    pub fn url(&self, path: &str) -> String {
        self.api.url(path)
    }

    /// Waits for the binary's burst slot: a test that fires hundreds of concurrent requests
    /// holds it for the burst, so no two bursts queue on DynamoDB Local together. Take it once
    /// per test, after `spawn_app`.
    pub async fn burst(&self) -> SemaphorePermit<'static> {
        BURST
            .acquire()
            .await
            .expect("the semaphore is never closed")
    }

    /// `POST /queue/tokens` for this app's concert.
    pub async fn issue_token(&self, user: &str) -> Answer {
        self.api
            .issue_token(user, &self.concert)
            .await
            .expect("the server answers")
    }

    /// Issues a token and returns it (201 or 200 expected).
    pub async fn token_for(&self, user: &str) -> String {
        let res = self.issue_token(user).await;
        assert!(
            res.status().is_success(),
            "token issue failed: {} {}",
            res.status(),
            res.text()
        );
        let body: Value = res.json().unwrap();
        body["token"].as_str().unwrap().to_owned()
    }

    pub async fn status(&self, token: &str) -> Answer {
        self.api.status(token).await.expect("the server answers")
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        let mut req = self.api.request(Method::GET, path);
        if let Some(t) = token {
            req = req.token(t);
        }
        req.send().await.expect("the server answers")
    }

    pub async fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> Answer {
        self.post_raw(path, token, body.to_string()).await
    }

    pub async fn post_raw(&self, path: &str, token: Option<&str>, body: String) -> Answer {
        self.post_keyed(path, token, None, body).await
    }

    /// A POST of a raw JSON body with, optionally, a token and an `Idempotency-Key` (a header
    /// value, so tests can send one that is not text).
    pub async fn post_keyed(
        &self,
        path: &str,
        token: Option<&str>,
        key: Option<HeaderValue>,
        body: String,
    ) -> Answer {
        let mut req = self.api.request(Method::POST, path);
        // Signed in as the user the body names, as `Request::json` does for a JSON value.
        let named = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v.get("userId").and_then(Value::as_str).map(str::to_owned));
        if let Some(user) = named {
            req = req.as_user(&user);
        }
        let mut req = req.body(body);
        if let Some(t) = token {
            req = req.token(t);
        }
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        req.send().await.expect("the server answers")
    }

    /// The seat's status in the app's concert's seat map, seen with `token`.
    pub async fn seat_status(&self, token: &str, date: &str, seat: u16) -> String {
        let res = self
            .api
            .seats(token, &self.concert, date)
            .await
            .expect("the server answers");
        let (status, body) = answer(res).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let found = body["seats"]
            .as_array()
            .expect("seats")
            .iter()
            .find(|s| s["seatNo"] == seat)
            .unwrap_or_else(|| panic!("seat {seat} is listed: {body}"));
        found["status"].as_str().expect("a status").to_owned()
    }
}

/// An answer's status and JSON body.
pub async fn answer(res: Answer) -> (StatusCode, Value) {
    let body = res.json().expect("a JSON body");
    (res.status(), body)
}

/// Asserts a problem+json answer with this status and code, and returns its body.
pub async fn assert_problem(res: Answer, status: StatusCode, code: &str) -> Value {
    assert_eq!(res.status(), status, "status of {}", res.text());
    assert_eq!(
        res.header("content-type").unwrap_or_default(),
        "application/problem+json"
    );
    if status == StatusCode::SERVICE_UNAVAILABLE {
        assert!(res.headers().contains_key("retry-after"));
    }
    let body: Value = res.json().expect("a JSON problem");
    assert_eq!(body["code"], code, "code in {body}");
    assert_eq!(body["status"], status.as_u16());
    assert!(body["type"].is_string() && body["title"].is_string() && body["detail"].is_string());
    body
}
