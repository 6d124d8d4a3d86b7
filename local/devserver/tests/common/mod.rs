//! `spawn_app`: the real app on a free port, against the DynamoDB Local and Redis that
//! `make test` started. Each app gets its own Redis key prefix and its own concert, so tests
//! run in parallel on one shared table.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use reqwest::header::HeaderValue;
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use shared::domain::{ConcertDate, ConcertId, ReservationId, SeatNo, Won};
use shared::settings::Settings;
use shared::store::dynamo::Item;
use shared::store::items::{keys, ReservationItem};
use shared::store::schema;
use shared::AppState;

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
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

/// Settings come from the environment `make test` set, with `overrides` on top.
pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    let mut map: HashMap<String, String> = overrides
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    map.entry("REDIS_KEY_PREFIX".into())
        .or_insert_with(|| unique("t"));
    map.entry("TABLE_NAME".into()).or_insert_with(|| {
        std::env::var("TABLE_NAME").unwrap_or_else(|_| "concert-booking-test".into())
    });
    map.entry("RESERVATIONS_TABLE_NAME".into())
        .or_insert_with(|| {
            std::env::var("RESERVATIONS_TABLE_NAME")
                .unwrap_or_else(|_| "concert-booking-test-reservations".into())
        });
    let settings = Settings::from_lookup(|k| map.get(k).cloned().or_else(|| std::env::var(k).ok()))
        .expect("test settings are valid");
    let state = Arc::new(AppState::new(settings).await.expect("state builds"));
    schema::create_tables(&state.db)
        .await
        .expect("the table exists or is created");

    let concert = unique("concert");
    let today = ConcertDate::today_utc().naive();
    let dates: Vec<ConcertDate> = (1..=2)
        .map(|d| ConcertDate::from_naive(today + chrono::Days::new(d)))
        .collect();
    state
        .db
        .seed_catalog(
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
    TestApp {
        base: format!("http://{addr}"),
        client: reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()
            .unwrap(),
        state,
        concert,
        dates: dates.iter().map(|d| d.to_string()).collect(),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn issue_token(&self, user: &str) -> Response {
        self.post_json(
            "/queue/tokens",
            None,
            &json!({"userId": user, "concertId": self.concert}),
        )
        .await
    }

    /// Issues a token and returns it (201 or 200 expected).
    pub async fn token_for(&self, user: &str) -> String {
        let res = self.issue_token(user).await;
        assert!(
            res.status().is_success(),
            "token issue failed: {}",
            res.status()
        );
        let body: Value = res.json().await.unwrap();
        body["token"].as_str().unwrap().to_owned()
    }

    pub async fn status(&self, token: &str) -> Response {
        self.get("/queue/status", Some(token)).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut req = self.client.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("the server answers")
    }

    pub async fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        self.post_raw(path, token, body.to_string()).await
    }

    pub async fn post_raw(&self, path: &str, token: Option<&str>, body: String) -> Response {
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
    ) -> Response {
        let mut req = self
            .client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        req.send().await.expect("the server answers")
    }
}

/// An answer's status and JSON body.
pub async fn answer(res: Response) -> (StatusCode, Value) {
    let status = res.status();
    let body = res.json().await.expect("a JSON body");
    (status, body)
}

/// The seat's status in the app's concert's seat map, seen with `token`.
pub async fn seat_status(app: &TestApp, token: &str, date: &str, seat: u16) -> String {
    let (status, body) = answer(
        app.get(
            &format!("/concerts/{}/dates/{date}/seats", app.concert),
            Some(token),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let found = body["seats"]
        .as_array()
        .expect("seats")
        .iter()
        .find(|s| s["seatNo"] == seat)
        .unwrap_or_else(|| panic!("seat {seat} is listed: {body}"));
    found["status"].as_str().expect("a status").to_owned()
}

/// Asserts a problem+json answer with this status and code, and returns its body.
pub async fn assert_problem(res: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(res.status(), status, "status");
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    if status == StatusCode::SERVICE_UNAVAILABLE {
        assert!(res.headers().contains_key("retry-after"));
    }
    let body: Value = res.json().await.expect("a JSON problem");
    assert_eq!(body["code"], code, "code in {body}");
    assert_eq!(body["status"], status.as_u16());
    assert!(body["type"].is_string() && body["title"].is_string() && body["detail"].is_string());
    body
}

// ------------------------------------------------------------------ the tables, read directly

/// The reservation as stored, whatever the API would make of it.
pub async fn stored(app: &TestApp, id: &ReservationId) -> ReservationItem {
    app.state
        .db
        .get_reservation(id)
        .await
        .expect("DynamoDB answers")
        .expect("the reservation is stored")
}

/// One item as stored, attribute by attribute (a strongly consistent read).
pub async fn get_raw(app: &TestApp, table: &str, pk: String, sk: &str) -> Option<Item> {
    app.state
        .db
        .client
        .get_item()
        .table_name(table)
        .key("PK", AttributeValue::S(pk))
        .key("SK", AttributeValue::S(sk.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .expect("DynamoDB answers")
        .item
}

/// The reservation item as stored, attribute by attribute.
pub async fn reservation_raw(app: &TestApp, id: &ReservationId) -> Option<Item> {
    get_raw(
        app,
        &app.state.db.reservations,
        keys::reservation_pk(id),
        keys::RESERVATION_SK,
    )
    .await
}

/// A string attribute of a raw item; panics, showing the item, when it is not one.
pub fn text(item: &Item, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::S(s)) => s.clone(),
        other => panic!("{name} is not a string in {item:?}: {other:?}"),
    }
}

/// The hold marker item `SEATS#{concert}#{date}` / `SEAT#00NN#HOLD`, if there is one.
pub async fn marker(app: &TestApp, concert: &str, date: &str, seat: u16) -> Option<Item> {
    let concert = ConcertId::parse(concert).unwrap();
    let date = ConcertDate::parse(date).unwrap();
    let seat = SeatNo::new(i64::from(seat)).unwrap();
    get_raw(
        app,
        &app.state.db.table,
        keys::seats_pk(&concert, &date),
        &keys::hold_sk(seat),
    )
    .await
}

/// The user's items in the main table whose sort key starts with `prefix` ("" for all).
pub async fn user_items(app: &TestApp, user: &str, prefix: &str) -> Vec<Item> {
    let mut found = Vec::new();
    let mut start = None;
    loop {
        let mut query = app
            .state
            .db
            .client
            .query()
            .table_name(&app.state.db.table)
            .expression_attribute_values(":pk", AttributeValue::S(format!("USER#{user}")));
        query = if prefix.is_empty() {
            query.key_condition_expression("PK = :pk")
        } else {
            query
                .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
                .expression_attribute_values(":prefix", AttributeValue::S(prefix.to_owned()))
        };
        let out = query
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("DynamoDB answers");
        found.extend(out.items.unwrap_or_default());
        match out.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => return found,
        }
    }
}
