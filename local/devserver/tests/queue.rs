//! Flow 1, the waiting room, over HTTP through the local server against DynamoDB Local and
//! Redis: issuing, asking again, polling, admission when a slot frees, expiry of active and
//! idle tokens, the token errors, bad input, concurrency and an unreachable Redis.

mod common;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use common::{assert_problem, spawn_app_with, unique, TestApp};
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};
use shared::domain::QueueToken;

/// Tests that depend on timing (TTLs, idle times) take this for reading; the thousand-request
/// test takes it for writing, so its load never stretches another test's clock.
static TIMING: LazyLock<tokio::sync::RwLock<()>> = LazyLock::new(|| tokio::sync::RwLock::new(()));

const FIELDS: [&str; 7] = [
    "token",
    "userId",
    "concertId",
    "status",
    "position",
    "estimatedWaitSeconds",
    "activeUntil",
];

// ------------------------------------------------------------------ helpers

async fn issue(app: &TestApp, user: &str) -> (StatusCode, Value) {
    let res = app.issue_token(user).await;
    let status = res.status();
    (status, res.json().await.expect("a JSON body"))
}

/// Issues a token that must be new (201) and returns its view.
async fn issue_new(app: &TestApp, user: &str) -> Value {
    let (status, body) = issue(app, user).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "a new token for {user}: {body}"
    );
    body
}

/// Polls a token that must be live (200) and returns its view.
async fn poll(app: &TestApp, token: &str) -> Value {
    let res = app.status(token).await;
    let status = res.status();
    let body: Value = res.json().await.expect("a JSON body");
    assert_eq!(status, StatusCode::OK, "a live token: {body}");
    body
}

/// Polls every `every` until `done` holds or `within` has passed (then panics).
async fn poll_until(
    app: &TestApp,
    token: &str,
    every: Duration,
    within: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let view = poll(app, token).await;
        if done(&view) {
            return view;
        }
        assert!(
            Instant::now() < deadline,
            "no change within {within:?}: {view}"
        );
        tokio::time::sleep(every).await;
    }
}

fn token_of(view: &Value) -> String {
    view["token"].as_str().expect("a token").to_owned()
}

fn assert_waiting(view: &Value, position: u64) {
    assert_eq!(view["status"], "WAITING", "{view}");
    assert_eq!(view["position"], position, "{view}");
    assert!(view["activeUntil"].is_null(), "{view}");
}

fn assert_active(view: &Value) {
    assert_eq!(view["status"], "ACTIVE", "{view}");
    assert_eq!(view["position"], 0, "{view}");
    active_until(view);
}

/// `activeUntil`, which must be RFC 3339 UTC in the contract's shape `2026-12-24T19:00:00Z`.
fn active_until(view: &Value) -> DateTime<Utc> {
    let text = view["activeUntil"].as_str().expect("activeUntil is set");
    assert!(
        text.len() == 20 && text.ends_with('Z') && text.as_bytes()[10] == b'T',
        "activeUntil {text:?} is not YYYY-MM-DDTHH:MM:SSZ"
    );
    DateTime::parse_from_rfc3339(text)
        .expect("activeUntil is RFC 3339")
        .with_timezone(&Utc)
}

/// Every key this app has in Redis.
async fn redis_keys(app: &TestApp) -> Vec<String> {
    let pattern = format!("{}*", app.state.redis.tag());
    app.state
        .redis
        .run(|mut c| async move {
            redis::cmd("KEYS")
                .arg(pattern)
                .query_async::<Vec<String>>(&mut c)
                .await
        })
        .await
        .expect("Redis answers")
}

/// Token audit records in DynamoDB for this user or this concert.
async fn token_records(
    app: &TestApp,
    user: &str,
    concert: &str,
) -> Vec<HashMap<String, AttributeValue>> {
    let pages = app
        .state
        .db
        .client
        .scan()
        .table_name(&app.state.db.table)
        .filter_expression("begins_with(#pk, :tok) AND (#u = :u OR #c = :c)")
        .expression_attribute_names("#pk", "PK")
        .expression_attribute_names("#u", "userId")
        .expression_attribute_names("#c", "concertId")
        .expression_attribute_values(":tok", AttributeValue::S("TOKEN#".into()))
        .expression_attribute_values(":u", AttributeValue::S(user.into()))
        .expression_attribute_values(":c", AttributeValue::S(concert.into()))
        .into_paginator()
        .items()
        .send()
        .collect::<Vec<_>>()
        .await;
    pages
        .into_iter()
        .map(|item| item.expect("the scan succeeds"))
        .collect()
}

/// A refused issue request: 400 VALIDATION_FAILED naming `field`, and nothing written to Redis
/// under this app's prefix. (DynamoDB is checked once per test by [`assert_no_token_records`]:
/// records are never removed, so one look at the end covers every case before it.)
async fn assert_refused(app: &TestApp, body: String, field: &str) {
    let shown: String = body.chars().take(80).collect();
    let res = app.post_raw("/queue/tokens", None, body).await;
    let problem = assert_problem(res, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains(field),
        "the detail {detail:?} names {field} (body {shown})"
    );
    assert_eq!(
        redis_keys(app).await,
        Vec::<String>::new(),
        "Redis after {shown}"
    );
}

/// No token record in DynamoDB for this user or for the app's concert.
async fn assert_no_token_records(app: &TestApp, user: &str) {
    let records = token_records(app, user, &app.concert).await;
    assert!(records.is_empty(), "token records: {records:?}");
}

// ------------------------------------------------------------------ issuing

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_token_is_201_and_active_at_once_when_a_slot_is_free_and_nobody_waits() {
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let before = Utc::now();

    let res = app.issue_token(&user).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.headers()["content-type"], "application/json");
    let view: Value = res.json().await.unwrap();

    let keys: BTreeSet<&str> = view
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, FIELDS.into_iter().collect::<BTreeSet<_>>(), "{view}");
    assert!(
        QueueToken::parse(view["token"].as_str().unwrap()).is_ok(),
        "{view}"
    );
    assert_eq!(view["userId"], user.as_str());
    assert_eq!(view["concertId"], app.concert.as_str());
    assert_active(&view);
    let wait = &view["estimatedWaitSeconds"];
    assert!(
        wait.is_null() || wait == 0,
        "an active token waits for nothing: {view}"
    );
    // The default ACTIVE_TOKEN_TTL_SECONDS is 600; activeUntil is shown to the second.
    let until = active_until(&view);
    let after = Utc::now();
    assert!(
        until >= before + chrono::Duration::seconds(598),
        "{until} vs {before}"
    );
    assert!(
        until <= after + chrono::Duration::seconds(601),
        "{until} vs {after}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asking_again_answers_200_with_the_same_token_and_the_same_place() {
    let app = spawn_app_with(&[("QUEUE_ACTIVE_LIMIT", "1")]).await;
    let (a, b, c) = (unique("a"), unique("b"), unique("c"));
    let first_a = issue_new(&app, &a).await;
    let first_b = issue_new(&app, &b).await;
    let first_c = issue_new(&app, &c).await;
    assert_active(&first_a);
    assert_waiting(&first_b, 1);
    assert_waiting(&first_c, 2);

    for _ in 0..3 {
        let (status, again_b) = issue(&app, &b).await;
        assert_eq!(status, StatusCode::OK, "{again_b}");
        assert_eq!(again_b["token"], first_b["token"]);
        assert_waiting(&again_b, 1);

        let (status, again_a) = issue(&app, &a).await;
        assert_eq!(status, StatusCode::OK, "{again_a}");
        assert_eq!(again_a["token"], first_a["token"]);
        assert_active(&again_a);
        assert_eq!(again_a["activeUntil"], first_a["activeUntil"]);
    }
    // Nobody moved: the one behind is still second.
    let (status, again_c) = issue(&app, &c).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again_c["token"], first_c["token"]);
    assert_waiting(&again_c, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_for_an_unknown_concert_is_404_not_found_and_nothing_is_written() {
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let concert = unique("no-such-concert");
    let res = app
        .post_json(
            "/queue/tokens",
            None,
            &json!({"userId": user, "concertId": concert}),
        )
        .await;
    assert_problem(res, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    assert_eq!(redis_keys(&app).await, Vec::<String>::new());
    assert!(token_records(&app, &user, &concert).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_tokens_get_positions_1_to_n_in_arrival_order_with_no_active_until() {
    let app = spawn_app_with(&[("QUEUE_ACTIVE_LIMIT", "1")]).await;
    assert_active(&issue_new(&app, &unique("first")).await);
    let mut tokens = Vec::new();
    for n in 1..=5u64 {
        let view = issue_new(&app, &unique("w")).await;
        assert_waiting(&view, n);
        let wait = &view["estimatedWaitSeconds"];
        assert!(wait.is_null() || wait.is_u64(), "{view}");
        tokens.push(token_of(&view));
    }
    // A poll tells each the same place.
    for (n, token) in (1..).zip(&tokens) {
        assert_waiting(&poll(&app, token).await, n);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_issued_token_is_recorded_in_dynamodb_with_its_user_and_concert() {
    let app = spawn_app_with(&[("QUEUE_ACTIVE_LIMIT", "1")]).await;
    for user in [unique("active"), unique("waiting")] {
        let view = issue_new(&app, &user).await;
        let token = QueueToken::parse(view["token"].as_str().unwrap()).unwrap();
        let record = app
            .state
            .db
            .get_token(&token)
            .await
            .expect("DynamoDB answers")
            .expect("the token is recorded");
        assert_eq!(record.token, token);
        assert_eq!(record.user_id.as_str(), user);
        assert_eq!(record.concert_id.as_str(), app.concert);
    }
}

// ------------------------------------------------------------------ admission

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_an_active_limit_of_two_the_third_token_waits_at_position_1() {
    let app = spawn_app_with(&[("QUEUE_ACTIVE_LIMIT", "2")]).await;
    let first = issue_new(&app, &unique("a")).await;
    let second = issue_new(&app, &unique("b")).await;
    let third = issue_new(&app, &unique("c")).await;
    assert_active(&first);
    assert_active(&second);
    assert_waiting(&third, 1);
    assert_waiting(&poll(&app, &token_of(&third)).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_deploy_raises_the_active_limit_the_first_waiter_is_admitted_on_its_next_poll() {
    // Two apps on one Redis queue: the old deploy (limit 1) and the new one (limit 2). Upkeep
    // runs only when due; a new limit must count as due, since no clock event announces it.
    let prefix = unique("t");
    let old = spawn_app_with(&[("QUEUE_ACTIVE_LIMIT", "1"), ("REDIS_KEY_PREFIX", &prefix)]).await;
    let new = spawn_app_with(&[("QUEUE_ACTIVE_LIMIT", "2"), ("REDIS_KEY_PREFIX", &prefix)]).await;
    assert_active(&issue_new(&old, &unique("a")).await);
    let second = issue_new(&old, &unique("b")).await;
    let third = issue_new(&old, &unique("c")).await;
    assert_waiting(&poll(&old, &token_of(&second)).await, 1);

    assert_active(&poll(&new, &token_of(&second)).await);
    assert_waiting(&poll(&new, &token_of(&third)).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_active_token_answers_401_token_expired_once_its_ttl_has_passed() {
    let _timing = TIMING.read().await;
    let app = spawn_app_with(&[("ACTIVE_TOKEN_TTL_SECONDS", "2")]).await;
    let view = issue_new(&app, &unique("u")).await;
    let token = token_of(&view);
    assert_active(&poll(&app, &token).await);

    // activeUntil is shown to the second, so the token ends within a second after it.
    let until = active_until(&view) + chrono::Duration::milliseconds(1_500);
    let left = (until - Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(left).await;
    assert_problem(
        app.status(&token).await,
        StatusCode::UNAUTHORIZED,
        "TOKEN_EXPIRED",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_freed_slot_goes_to_the_longest_waiting_token_on_its_next_poll_even_when_another_polls_first(
) {
    let _timing = TIMING.read().await;
    let app = spawn_app_with(&[
        ("QUEUE_ACTIVE_LIMIT", "1"),
        ("ACTIVE_TOKEN_TTL_SECONDS", "2"),
    ])
    .await;
    let a = token_of(&issue_new(&app, &unique("a")).await);
    let b = issue_new(&app, &unique("b")).await;
    let c = issue_new(&app, &unique("c")).await;
    assert_waiting(&b, 1);
    assert_waiting(&c, 2);

    // Only the second in line polls while A's time runs out: it moves up, it is not admitted.
    let seen_by_c = poll_until(
        &app,
        &token_of(&c),
        Duration::from_millis(200),
        Duration::from_secs(20),
        |v| v["position"] != 2,
    )
    .await;
    assert_waiting(&seen_by_c, 1);

    // The longest waiting holds the slot when it next polls; the expired one is refused.
    assert_active(&poll(&app, &token_of(&b)).await);
    assert_problem(
        app.status(&a).await,
        StatusCode::UNAUTHORIZED,
        "TOKEN_EXPIRED",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_token_answers_token_expired_and_the_next_waiter_is_admitted_on_its_next_poll() {
    let app = spawn_app_with(&[("QUEUE_ACTIVE_LIMIT", "1")]).await;
    let a = token_of(&issue_new(&app, &unique("a")).await);
    let b = token_of(&issue_new(&app, &unique("b")).await);
    let c = token_of(&issue_new(&app, &unique("c")).await);
    assert_waiting(&poll(&app, &b).await, 1);

    shared::flows::queue::spend(&app.state, &QueueToken::parse(&a).unwrap())
        .await
        .expect("the token is spent");

    assert_problem(
        app.status(&a).await,
        StatusCode::UNAUTHORIZED,
        "TOKEN_EXPIRED",
    )
    .await;
    assert_active(&poll(&app, &b).await);
    assert_waiting(&poll(&app, &c).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asking_again_after_the_token_was_spent_gives_a_new_token() {
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let old = token_of(&issue_new(&app, &user).await);
    shared::flows::queue::spend(&app.state, &QueueToken::parse(&old).unwrap())
        .await
        .expect("the token is spent");

    let fresh = issue_new(&app, &user).await;
    assert_ne!(token_of(&fresh), old);
    assert_active(&fresh);
    assert_problem(
        app.status(&old).await,
        StatusCode::UNAUTHORIZED,
        "TOKEN_EXPIRED",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_redis_has_forgotten_answers_token_expired_from_its_dynamodb_record() {
    let app = spawn_app_with(&[]).await;
    let token = token_of(&issue_new(&app, &unique("u")).await);
    shared::flows::queue::spend(&app.state, &QueueToken::parse(&token).unwrap())
        .await
        .unwrap();
    // What Redis does by itself an hour after the token ended.
    let key = format!("{}:tok:{token}", app.state.redis.tag());
    let removed: i64 = app
        .state
        .redis
        .run(|mut c| async move { redis::cmd("DEL").arg(key).query_async(&mut c).await })
        .await
        .unwrap();
    assert_eq!(removed, 1);
    assert_problem(
        app.status(&token).await,
        StatusCode::UNAUTHORIZED,
        "TOKEN_EXPIRED",
    )
    .await;
}

// ------------------------------------------------------------------ idle waiters

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_token_not_polled_for_the_idle_time_drops_out_and_the_one_behind_moves_up() {
    let _timing = TIMING.read().await;
    // 2 s rather than 1 s, so a slow moment on a loaded machine never idles out the poller.
    let app = spawn_app_with(&[
        ("QUEUE_ACTIVE_LIMIT", "1"),
        ("WAITING_TOKEN_IDLE_SECONDS", "2"),
    ])
    .await;
    assert_active(&issue_new(&app, &unique("a")).await);
    let started = Instant::now();
    let idle = token_of(&issue_new(&app, &unique("idle")).await);
    let keen = issue_new(&app, &unique("keen")).await;
    assert_waiting(&keen, 2);

    let moved = poll_until(
        &app,
        &token_of(&keen),
        Duration::from_millis(300),
        Duration::from_secs(20),
        |v| v["position"] != 2,
    )
    .await;
    assert!(
        started.elapsed() >= Duration::from_millis(1_500),
        "dropped after only {:?}",
        started.elapsed()
    );
    assert_waiting(&moved, 1);
    assert_problem(
        app.status(&idle).await,
        StatusCode::UNAUTHORIZED,
        "TOKEN_EXPIRED",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_token_that_keeps_polling_keeps_its_place() {
    let _timing = TIMING.read().await;
    let app = spawn_app_with(&[
        ("QUEUE_ACTIVE_LIMIT", "1"),
        ("WAITING_TOKEN_IDLE_SECONDS", "2"),
    ])
    .await;
    assert_active(&issue_new(&app, &unique("a")).await);
    let first = token_of(&issue_new(&app, &unique("b")).await);
    let second = token_of(&issue_new(&app, &unique("c")).await);

    // Well past twice the idle time, polling every 300 ms.
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        assert_waiting(&poll(&app, &first).await, 1);
        assert_waiting(&poll(&app, &second).await, 2);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_token_gets_a_wait_estimate_of_at_least_a_second_once_tokens_were_admitted() {
    let app = spawn_app_with(&[("QUEUE_ACTIVE_LIMIT", "1")]).await;
    // Admitted at once: the last minute has an admission.
    assert_active(&issue_new(&app, &unique("a")).await);
    let issued = issue_new(&app, &unique("b")).await;
    let polled = poll(&app, &token_of(&issued)).await;
    for view in [issued, polled] {
        assert_waiting(&view, 1);
        let wait = view["estimatedWaitSeconds"].as_u64();
        assert!(wait.is_some_and(|s| s >= 1), "{view}");
    }
}

// ------------------------------------------------------------------ token errors

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_without_an_authorization_header_is_401_token_missing() {
    let app = spawn_app_with(&[]).await;
    let res = app.get("/queue/status", None).await;
    assert_problem(res, StatusCode::UNAUTHORIZED, "TOKEN_MISSING").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_with_a_malformed_token_or_another_scheme_is_401_token_invalid() {
    let app = spawn_app_with(&[]).await;
    let real = token_of(&issue_new(&app, &unique("u")).await);
    for header in [
        "Bearer not-a-uuid".to_owned(),
        "Basic xyz".to_owned(),
        format!("Basic {real}"),
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
        format!("Bearer {real}x"),
        real.clone(),
    ] {
        let res = app
            .client
            .get(app.url("/queue/status"))
            .header("authorization", &header)
            .send()
            .await
            .unwrap();
        let problem = assert_problem(res, StatusCode::UNAUTHORIZED, "TOKEN_INVALID").await;
        assert!(problem["detail"].is_string(), "{header}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_with_an_unknown_uuid_is_401_token_invalid() {
    let app = spawn_app_with(&[]).await;
    let stranger = uuid::Uuid::new_v4().to_string();
    assert_problem(
        app.status(&stranger).await,
        StatusCode::UNAUTHORIZED,
        "TOKEN_INVALID",
    )
    .await;
}

// ------------------------------------------------------------------ bad input

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_is_not_a_json_object_is_400_naming_the_body_and_nothing_is_written() {
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let concert = app.concert.clone();
    for body in [
        String::new(),
        "   ".to_owned(),
        "{".to_owned(),
        format!(r#"{{"userId": "{user}", "concertId": "{concert}""#),
        format!(r#"{{"userId": '{user}', "concertId": "{concert}"}}"#),
        "not json".to_owned(),
        "[]".to_owned(),
        "null".to_owned(),
        "42".to_owned(),
        format!(r#""{user}""#),
        format!(r#"{{"userId": "{user}", "concertId": "{concert}"}} {{}}"#),
    ] {
        assert_refused(&app, body, "body").await;
    }
    assert_no_token_records(&app, &user).await;
}

// serde's derived Deserialize would take the struct from an array of its fields in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_empty_json_array_is_400_naming_the_body_and_nothing_is_written() {
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let concert = app.concert.clone();
    for body in [
        format!(r#"[{{"userId": "{user}", "concertId": "{concert}"}}]"#),
        format!(r#"["{user}", "{concert}"]"#),
    ] {
        assert_refused(&app, body, "body").await;
    }
    assert_no_token_records(&app, &user).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_field_of_the_wrong_type_is_400_naming_it_and_nothing_is_written() {
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let concert = app.concert.clone();
    let cases = [
        (json!({"userId": 12345, "concertId": concert}), "userId"),
        (json!({"userId": null, "concertId": concert}), "userId"),
        (json!({"userId": true, "concertId": concert}), "userId"),
        (json!({"userId": [user], "concertId": concert}), "userId"),
        (
            json!({"userId": {"id": user}, "concertId": concert}),
            "userId",
        ),
        (json!({"userId": user, "concertId": 7}), "concertId"),
        (json!({"userId": user, "concertId": null}), "concertId"),
    ];
    for (body, field) in cases {
        assert_refused(&app, body.to_string(), field).await;
    }
    assert_no_token_records(&app, &user).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_unknown_field_is_400_naming_it_and_nothing_is_written() {
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let concert = app.concert.clone();
    let cases = [
        (json!({"concertId": concert}), "userId"),
        (json!({"userId": user}), "concertId"),
        (json!({}), "userId"),
        (
            json!({"userId": user, "concertId": concert, "priority": 1}),
            "priority",
        ),
        (json!({"userid": user, "concertId": concert}), "userid"),
    ];
    for (body, field) in cases {
        assert_refused(&app, body.to_string(), field).await;
    }
    let snake = format!(r#"{{"user_id": "{user}", "concert_id": "{concert}"}}"#);
    assert_refused(&app, snake, "user_id").await;
    let duplicate =
        format!(r#"{{"userId": "{user}", "userId": "{user}", "concertId": "{concert}"}}"#);
    assert_refused(&app, duplicate, "userId").await;
    assert_no_token_records(&app, &user).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_that_is_too_long_empty_non_ascii_or_has_a_forbidden_character_is_400_naming_it_and_nothing_is_written(
) {
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let concert = app.concert.clone();
    let bad_ids = [
        "x".repeat(65),
        String::new(),
        "사용자".to_owned(),
        "usér".to_owned(),
        "user one".to_owned(),
        "user#1".to_owned(),
        "user/1".to_owned(),
        "user\n".to_owned(),
        "user\u{0}".to_owned(),
    ];
    for bad in &bad_ids {
        let body = json!({"userId": bad, "concertId": concert}).to_string();
        assert_refused(&app, body, "userId").await;
        let body = json!({"userId": user, "concertId": bad}).to_string();
        assert_refused(&app, body, "concertId").await;
    }
    assert_no_token_records(&app, &user).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_of_64_characters_of_letters_digits_underscore_and_hyphen_are_accepted() {
    let app = spawn_app_with(&[]).await;
    let user = format!("{}_{}", unique("A-z_0-9"), "y".repeat(43));
    assert_eq!(user.len(), 64);
    let view = issue_new(&app, &user).await;
    assert_eq!(view["userId"], user.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_16_kib_is_400_naming_the_body_and_nothing_is_written() {
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let huge = json!({"userId": "u".repeat(20_000), "concertId": app.concert}).to_string();
    assert_refused(&app, huge, "body").await;
    // Valid fields padded with whitespace past the limit are refused too.
    let padded = format!(
        r#"{{"userId": "{user}",{} "concertId": "{}"}}"#,
        " ".repeat(17 * 1024),
        app.concert
    );
    assert_refused(&app, padded, "body").await;
    assert_no_token_records(&app, &user).await;
}

// ------------------------------------------------------------------ concurrency

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_requests_from_distinct_users_get_distinct_tokens_100_active_and_positions_1_to_900(
) {
    let _exclusive = TIMING.write().await;
    let app = spawn_app_with(&[("QUEUE_ACTIVE_LIMIT", "100")]).await;
    let users: Vec<String> = (0..1_000).map(|i| format!("{}-{i}", unique("c"))).collect();

    let issued: Vec<(StatusCode, Value)> = join_all(users.iter().map(|u| issue(&app, u))).await;
    let mut tokens = HashSet::new();
    let mut at_issue: HashMap<String, Value> = HashMap::new();
    for ((status, view), user) in issued.into_iter().zip(&users) {
        assert_eq!(status, StatusCode::CREATED, "{view}");
        assert_eq!(view["userId"], user.as_str());
        assert!(tokens.insert(token_of(&view)), "a duplicate token: {view}");
        at_issue.insert(token_of(&view), view);
    }
    assert_eq!(tokens.len(), 1_000);

    let polled: Vec<Value> = join_all(tokens.iter().map(|t| poll(&app, t))).await;
    let active = polled.iter().filter(|v| v["status"] == "ACTIVE").count();
    assert_eq!(active, 100, "exactly QUEUE_ACTIVE_LIMIT are active");
    let mut positions: Vec<u64> = polled
        .iter()
        .filter(|v| v["status"] == "WAITING")
        .map(|v| v["position"].as_u64().expect("a position"))
        .collect();
    positions.sort_unstable();
    assert_eq!(positions, (1..=900).collect::<Vec<u64>>());
    // Nothing moved between issue and poll: every token was told its place at once.
    for view in &polled {
        let first = &at_issue[&token_of(view)];
        assert_eq!(view["status"], first["status"], "{view} vs {first}");
        assert_eq!(view["position"], first["position"], "{view} vs {first}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_asks_by_one_user_give_one_token_and_one_place() {
    let app = spawn_app_with(&[("QUEUE_ACTIVE_LIMIT", "1")]).await;
    assert_active(&issue_new(&app, &unique("first")).await);
    let user = unique("u");

    let answers: Vec<(StatusCode, Value)> = join_all((0..50).map(|_| issue(&app, &user))).await;
    let created = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    let repeated = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!((created, repeated), (1, 49));
    let tokens: HashSet<String> = answers.iter().map(|(_, v)| token_of(v)).collect();
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    for (_, view) in &answers {
        assert_waiting(view, 1);
    }
    assert_eq!(token_records(&app, &user, "-").await.len(), 1);

    // Fifty more, now that the token exists: all 200, all the same token and place.
    let again: Vec<(StatusCode, Value)> = join_all((0..50).map(|_| issue(&app, &user))).await;
    for (status, view) in &again {
        assert_eq!(*status, StatusCode::OK, "{view}");
        assert!(tokens.contains(&token_of(view)), "{view}");
        assert_waiting(view, 1);
    }
}

// ------------------------------------------------------------------ Redis down

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_redis_refuses_connections_issuing_and_polling_answer_503_with_retry_after() {
    let app = spawn_app_with(&[
        ("REDIS_URL", "redis://127.0.0.1:1"),
        ("STORE_TIMEOUT_MS", "300"),
    ])
    .await;
    let token = uuid::Uuid::new_v4().to_string();
    for _ in 0..2 {
        let started = Instant::now();
        let res = app.issue_token(&unique("u")).await;
        assert_problem(res, StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE").await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );

        let started = Instant::now();
        let res = app.status(&token).await;
        assert_problem(res, StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE").await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_redis_accepts_but_never_answers_issuing_and_polling_answer_503_within_the_timeout() {
    // A Redis that takes the connection and says nothing.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let url = format!("redis://127.0.0.1:{port}");
    let app = spawn_app_with(&[("REDIS_URL", &url), ("STORE_TIMEOUT_MS", "300")]).await;
    let token = uuid::Uuid::new_v4().to_string();
    for _ in 0..2 {
        let started = Instant::now();
        let res = app.issue_token(&unique("u")).await;
        assert_problem(res, StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE").await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );

        let started = Instant::now();
        let res = app.status(&token).await;
        assert_problem(res, StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE").await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }
    holder.abort();
}
