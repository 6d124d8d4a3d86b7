//! Flow 4, the balance, over HTTP through the local server against DynamoDB Local and Redis:
//! reading and charging, the token rules, bad input, the balance limit, Idempotency-Key replays
//! and reuse, and concurrent charges. The ledger and the idempotency records are read straight
//! from the table, so "nothing written" and "one entry per charge" are checked, not assumed.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use devserver::counting::Counter;
use std::time::Instant;

use common::{assert_problem, spawn_app_with, unique, user_items, TestApp};
use futures::future::join_all;
use reqwest::header::{HeaderValue, AUTHORIZATION};
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use shared::domain::{Amount, IdempotencyKey, QueueToken, UserId};
use shared::flows::balance::{self, ChargeRequest};
use shared::store::dynamo::from_item;
use shared::store::items::{LedgerItem, LedgerKind};
use shared::AppState;

// ------------------------------------------------------------------ helpers

/// A user of this app with a live token.
struct Caller {
    user: String,
    token: String,
}

async fn caller(app: &TestApp) -> Caller {
    let user = unique("u");
    let token = app.token_for(&user).await;
    Caller { user, token }
}

fn charges_path(user: &str) -> String {
    format!("/users/{user}/balance/charges")
}

fn balance_path(user: &str) -> String {
    format!("/users/{user}/balance")
}

/// `POST /users/{user}/balance/charges` with a raw body and, optionally, a token and a key.
async fn post_charge(
    app: &TestApp,
    user: &str,
    token: Option<&str>,
    key: Option<HeaderValue>,
    body: String,
) -> Response {
    app.post_keyed(&charges_path(user), token, key, body).await
}

async fn charge(app: &TestApp, c: &Caller, amount: i64, key: Option<&str>) -> Response {
    post_charge(
        app,
        &c.user,
        Some(&c.token),
        key.map(|k| HeaderValue::from_str(k).unwrap()),
        json!({ "amount": amount }).to_string(),
    )
    .await
}

/// A charge that must succeed; its 200 body.
async fn charge_ok(app: &TestApp, c: &Caller, amount: i64, key: Option<&str>) -> Value {
    let res = charge(app, c, amount, key).await;
    let status = res.status();
    let body: Value = res.json().await.expect("a JSON body");
    assert_eq!(status, StatusCode::OK, "charge of {amount}: {body}");
    body
}

/// The balance through `GET /users/{user}/balance`, which must answer 200.
async fn balance_of(app: &TestApp, c: &Caller) -> u64 {
    let res = app.get(&balance_path(&c.user), Some(&c.token)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "userId": c.user, "balance": body["balance"] })
    );
    body["balance"].as_u64().expect("an integer balance")
}

async fn ledger(app: &TestApp, user: &str) -> Vec<LedgerItem> {
    user_items(app, user, "LEDGER#")
        .await
        .into_iter()
        .map(|i| from_item(i).expect("a ledger item"))
        .collect()
}

async fn idempotency_records(app: &TestApp, user: &str) -> usize {
    user_items(app, user, "IDEMPOTENCY#").await.len()
}

/// Everything this user has in the table: balance, ledger, records.
async fn everything(app: &TestApp, user: &str) -> usize {
    user_items(app, user, "").await.len()
}

/// Balance = sum of the ledger, and each entry's `balanceAfter` is the running sum when the
/// entries are replayed in commit order (for charges, the order of their `balanceAfter`).
fn assert_ledger_adds_up(entries: &[LedgerItem], balance: u64) {
    let mut in_order: Vec<&LedgerItem> = entries.iter().collect();
    in_order.sort_by_key(|e| e.balance_after);
    let mut running = 0i64;
    for e in in_order {
        running += e.amount;
        assert_eq!(
            running,
            e.balance_after.get() as i64,
            "running sum at {e:?}"
        );
    }
    assert_eq!(
        running, balance as i64,
        "the balance is the sum of the ledger"
    );
}

// ------------------------------------------------------------------ reading and charging

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_who_never_charged_has_a_balance_of_zero() {
    let app = spawn_app_with(&[]).await;
    let c = caller(&app).await;
    let res = app.get(&balance_path(&c.user), Some(&c.token)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body, json!({ "userId": c.user, "balance": 0 }));
    assert_eq!(everything(&app, &c.user).await, 0, "a read writes nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_charge_answers_the_new_balance_and_leaves_one_ledger_entry() {
    let app = spawn_app_with(&[]).await;
    let c = caller(&app).await;

    let res = charge(&app, &c, 30_000, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body, json!({ "userId": c.user, "balance": 30_000 }));
    assert_eq!(balance_of(&app, &c).await, 30_000);

    let entries = ledger(&app, &c.user).await;
    assert_eq!(entries.len(), 1);
    let e = &entries[0];
    assert_eq!(e.kind, LedgerKind::Charge);
    assert_eq!(e.amount, 30_000);
    assert_eq!(e.balance_after.get(), 30_000);
    assert_eq!(e.user_id.as_str(), c.user);
    assert!((chrono::Utc::now() - e.at).num_seconds().abs() < 60);
    assert_eq!(
        idempotency_records(&app, &c.user).await,
        0,
        "no key, no record"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn charges_add_up_and_the_ledger_holds_one_entry_for_each() {
    let app = spawn_app_with(&[]).await;
    let c = caller(&app).await;
    assert_eq!(charge_ok(&app, &c, 1, None).await["balance"], 1);
    assert_eq!(
        charge_ok(&app, &c, 10_000_000, None).await["balance"],
        10_000_001
    );
    assert_eq!(charge_ok(&app, &c, 999, None).await["balance"], 10_001_000);
    assert_eq!(balance_of(&app, &c).await, 10_001_000);

    let entries = ledger(&app, &c.user).await;
    assert_eq!(entries.len(), 3);
    // Sort keys put the ledger in time order.
    let amounts: Vec<i64> = entries.iter().map(|e| e.amount).collect();
    assert_eq!(amounts, vec![1, 10_000_000, 999]);
    let ids: std::collections::HashSet<_> = entries.iter().map(|e| e.entry_id).collect();
    assert_eq!(ids.len(), 3, "every charge has its own ID");
    assert_ledger_adds_up(&entries, 10_001_000);
}

// ------------------------------------------------------------------ bad input

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_amount_or_body_is_400_naming_the_field_and_writes_nothing() {
    let app = spawn_app_with(&[]).await;
    let c = caller(&app).await;
    let cases: &[(&str, &str)] = &[
        (r#"{"amount": 0}"#, "amount"),
        (r#"{"amount": -1}"#, "amount"),
        (r#"{"amount": 10000001}"#, "amount"),
        (r#"{"amount": 1.5}"#, "amount"),
        (r#"{"amount": 1.0}"#, "amount"),
        (r#"{"amount": 1e3}"#, "amount"),
        (r#"{"amount": "5"}"#, "amount"),
        (r#"{"amount": null}"#, "amount"),
        (r#"{"amount": true}"#, "amount"),
        (r#"{"amount": 9223372036854775808}"#, "amount"),
        (r#"{"amount": 100000000000000000000000}"#, "amount"),
        (r#"{"amount": -9223372036854775809}"#, "amount"),
        (r#"{}"#, "amount"),
        (r#"{"amount": 5, "currency": "KRW"}"#, "currency"),
        (r#"{"amount": 5} {"amount": 5}"#, "body"),
        (r#"5"#, "body"),
        (r#"{"amount": 5"#, "body"),
        (r#"not json"#, "body"),
        ("", "body"),
    ];
    for (raw, field) in cases {
        let res = post_charge(&app, &c.user, Some(&c.token), None, raw.to_string()).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{raw:?}");
        let problem = assert_problem(res, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            detail.starts_with(&format!("{field}:")),
            "{raw:?}: detail {detail:?} should name {field}"
        );
    }
    assert_eq!(everything(&app, &c.user).await, 0, "nothing was written");
    assert_eq!(balance_of(&app, &c).await, 0);
}

// Fails today, like queue.rs's test of the same name: serde's derived Deserialize takes a
// struct from a JSON array of its fields in order, and shared::http::body lets it, so `[5]`
// charges 5 won.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "app bug: shared::http::body accepts a JSON array as the request object"]
async fn a_non_empty_json_array_is_400_naming_the_body_and_nothing_is_written() {
    let app = spawn_app_with(&[]).await;
    let c = caller(&app).await;
    let res = post_charge(&app, &c.user, Some(&c.token), None, "[5]".into()).await;
    let problem = assert_problem(res, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
    assert!(problem["detail"].as_str().unwrap().starts_with("body:"));
    assert_eq!(everything(&app, &c.user).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_idempotency_key_is_400_naming_the_header_and_writes_nothing() {
    let app = spawn_app_with(&[]).await;
    let c = caller(&app).await;
    let long = "k".repeat(129);
    let keys = [
        HeaderValue::from_static(""),
        HeaderValue::from_str(&long).unwrap(),
        HeaderValue::from_static("two words"),
        HeaderValue::from_bytes("키".as_bytes()).unwrap(),
    ];
    for key in keys {
        let shown = format!("{key:?}");
        let res = post_charge(
            &app,
            &c.user,
            Some(&c.token),
            Some(key),
            json!({ "amount": 5 }).to_string(),
        )
        .await;
        let problem = assert_problem(res, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.starts_with("Idempotency-Key:"), "{shown}: {detail}");
    }
    // Twice in one request.
    let res = app
        .client
        .post(app.url(&charges_path(&c.user)))
        .bearer_auth(&c.token)
        .header("Idempotency-Key", "a")
        .header("Idempotency-Key", "b")
        .body(json!({ "amount": 5 }).to_string())
        .send()
        .await
        .unwrap();
    assert_problem(res, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
    assert_eq!(everything(&app, &c.user).await, 0, "nothing was written");

    // The longest key and the whole visible ASCII range are fine.
    let longest = "k".repeat(128);
    charge_ok(&app, &c, 1, Some(&longest)).await;
    let visible: String = (0x21u8..=0x7e).map(char::from).collect();
    charge_ok(&app, &c, 1, Some(&visible)).await;
    assert_eq!(balance_of(&app, &c).await, 2);
    assert_eq!(idempotency_records(&app, &c.user).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_user_id_in_the_path_is_400_naming_it() {
    let app = spawn_app_with(&[]).await;
    let c = caller(&app).await;
    let long = "u".repeat(65);
    for user in ["bad%20user", "a%23b", long.as_str()] {
        let res = app.get(&balance_path(user), Some(&c.token)).await;
        let problem = assert_problem(res, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
        assert!(problem["detail"].as_str().unwrap().starts_with("userId:"));
        let res = post_charge(
            &app,
            user,
            Some(&c.token),
            None,
            json!({ "amount": 5 }).to_string(),
        )
        .await;
        let problem = assert_problem(res, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
        assert!(problem["detail"].as_str().unwrap().starts_with("userId:"));
    }
}

// ------------------------------------------------------------------ tokens

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_calls_need_a_live_token_401_otherwise_and_write_nothing() {
    let app = spawn_app_with(&[]).await;
    let c = caller(&app).await;
    let spent = caller(&app).await;
    shared::flows::queue::spend(&app.state, &QueueToken::parse(&spent.token).unwrap())
        .await
        .unwrap();
    let unknown = QueueToken::generate().to_string();

    let cases: Vec<(&str, Option<String>, &str)> = vec![
        (&c.user, None, "TOKEN_MISSING"),
        (&c.user, Some("Bearer not-a-token".into()), "TOKEN_INVALID"),
        (&c.user, Some(format!("Basic {}", c.token)), "TOKEN_INVALID"),
        (&c.user, Some(format!("Bearer {unknown}")), "TOKEN_INVALID"),
        (
            &spent.user,
            Some(format!("Bearer {}", spent.token)),
            "TOKEN_EXPIRED",
        ),
    ];
    for (user, auth, code) in cases {
        let mut get = app.client.get(app.url(&balance_path(user)));
        let mut post = app
            .client
            .post(app.url(&charges_path(user)))
            .header("Idempotency-Key", "k-1")
            .body(json!({ "amount": 5 }).to_string());
        if let Some(a) = &auth {
            get = get.header(AUTHORIZATION, a);
            post = post.header(AUTHORIZATION, a);
        }
        assert_problem(get.send().await.unwrap(), StatusCode::UNAUTHORIZED, code).await;
        assert_problem(post.send().await.unwrap(), StatusCode::UNAUTHORIZED, code).await;
    }
    assert_eq!(everything(&app, &c.user).await, 0);
    assert_eq!(everything(&app, &spent.user).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_users_balance_is_403_forbidden_and_is_left_alone() {
    let app = spawn_app_with(&[]).await;
    let a = caller(&app).await;
    let b = caller(&app).await;
    charge_ok(&app, &b, 100, None).await;

    let res = app.get(&balance_path(&b.user), Some(&a.token)).await;
    assert_problem(res, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    let res = post_charge(
        &app,
        &b.user,
        Some(&a.token),
        None,
        json!({ "amount": 5 }).to_string(),
    )
    .await;
    assert_problem(res, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    // A user that does not exist at all is just as forbidden.
    let res = app
        .get(&balance_path(&unique("nobody")), Some(&a.token))
        .await;
    assert_problem(res, StatusCode::FORBIDDEN, "FORBIDDEN").await;

    assert_eq!(balance_of(&app, &b).await, 100);
    assert_eq!(ledger(&app, &b.user).await.len(), 1);
    assert_eq!(everything(&app, &a.user).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_token_may_charge_and_read_its_balance() {
    let app = spawn_app_with(&[("QUEUE_ACTIVE_LIMIT", "1")]).await;
    let first = caller(&app).await;
    let waiting = caller(&app).await;
    let status: Value = app.status(&waiting.token).await.json().await.unwrap();
    assert_eq!(status["status"], "WAITING", "{status}");
    let status: Value = app.status(&first.token).await.json().await.unwrap();
    assert_eq!(status["status"], "ACTIVE", "{status}");

    assert_eq!(
        charge_ok(&app, &waiting, 5_000, None).await["balance"],
        5_000
    );
    assert_eq!(balance_of(&app, &waiting).await, 5_000);
    assert_eq!(charge_ok(&app, &first, 7, None).await["balance"], 7);

    let status: Value = app.status(&waiting.token).await.json().await.unwrap();
    assert_eq!(
        status["status"], "WAITING",
        "charging does not admit: {status}"
    );
}

// ------------------------------------------------------------------ the balance limit

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_balance_may_reach_one_billion_but_a_charge_past_it_is_409_and_writes_nothing() {
    let app = spawn_app_with(&[]).await;
    let c = caller(&app).await;
    // 99 × 10,000,000 + 9,999,999 = 999,999,999.
    let results = join_all((0..99).map(|_| charge(&app, &c, 10_000_000, None))).await;
    assert!(results.iter().all(|r| r.status() == StatusCode::OK));
    charge_ok(&app, &c, 9_999_999, None).await;
    assert_eq!(balance_of(&app, &c).await, 999_999_999);

    let res = charge(&app, &c, 2, Some("over-the-limit")).await;
    let problem = assert_problem(res, StatusCode::CONFLICT, "BALANCE_LIMIT_EXCEEDED").await;
    assert!(problem["detail"].as_str().unwrap().contains("1000000000"));
    assert_eq!(balance_of(&app, &c).await, 999_999_999);
    assert_eq!(ledger(&app, &c.user).await.len(), 100);
    assert_eq!(
        idempotency_records(&app, &c.user).await,
        0,
        "a refused charge keeps no key"
    );

    assert_eq!(
        charge_ok(&app, &c, 1, None).await["balance"],
        1_000_000_000,
        "exactly the limit is allowed"
    );
    for (amount, key) in [(1, None), (10_000_000, Some("k-2"))] {
        let res = charge(&app, &c, amount, key).await;
        assert_problem(res, StatusCode::CONFLICT, "BALANCE_LIMIT_EXCEEDED").await;
    }
    assert_eq!(balance_of(&app, &c).await, 1_000_000_000);
    let entries = ledger(&app, &c.user).await;
    assert_eq!(entries.len(), 101);
    assert_ledger_adds_up(&entries, 1_000_000_000);
    assert_eq!(idempotency_records(&app, &c.user).await, 0);
}

// ------------------------------------------------------------------ Idempotency-Key

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_with_the_same_key_and_body_answers_the_same_and_changes_nothing() {
    let app = spawn_app_with(&[]).await;
    let c = caller(&app).await;
    charge_ok(&app, &c, 1_000, None).await;

    let first = charge(&app, &c, 700, Some("order-42")).await;
    assert_eq!(first.status(), StatusCode::OK);
    let first_body = first.text().await.unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&first_body).unwrap(),
        json!({ "userId": c.user, "balance": 1_700 })
    );
    // Another charge moves the balance; the replay still answers what the first call did.
    charge_ok(&app, &c, 300, None).await;

    for raw in [r#"{"amount":700}"#, r#"{ "amount" : 700 }"#] {
        let again = post_charge(
            &app,
            &c.user,
            Some(&c.token),
            Some(HeaderValue::from_static("order-42")),
            raw.into(),
        )
        .await;
        assert_eq!(again.status(), StatusCode::OK);
        assert_eq!(again.text().await.unwrap(), first_body, "the same answer");
    }
    assert_eq!(balance_of(&app, &c).await, 2_000);
    assert_eq!(ledger(&app, &c.user).await.len(), 3);
    assert_eq!(idempotency_records(&app, &c.user).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_reused_with_another_body_is_422_and_changes_nothing() {
    let app = spawn_app_with(&[]).await;
    let c = caller(&app).await;
    charge_ok(&app, &c, 700, Some("order-43")).await;

    let res = charge(&app, &c, 701, Some("order-43")).await;
    assert_problem(
        res,
        StatusCode::UNPROCESSABLE_ENTITY,
        "IDEMPOTENCY_KEY_REUSED",
    )
    .await;
    assert_eq!(balance_of(&app, &c).await, 700);
    assert_eq!(ledger(&app, &c.user).await.len(), 1);
    // The original request still replays.
    assert_eq!(
        charge_ok(&app, &c, 700, Some("order-43")).await["balance"],
        700
    );
    // Keys are case-sensitive: another spelling is another key.
    assert_eq!(
        charge_ok(&app, &c, 1, Some("ORDER-43")).await["balance"],
        701
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_key_from_two_users_is_two_charges() {
    let app = spawn_app_with(&[]).await;
    let a = caller(&app).await;
    let b = caller(&app).await;
    assert_eq!(
        charge_ok(&app, &a, 10, Some("shared-key")).await["balance"],
        10
    );
    assert_eq!(
        charge_ok(&app, &b, 20, Some("shared-key")).await["balance"],
        20
    );
    assert_eq!(balance_of(&app, &a).await, 10);
    assert_eq!(balance_of(&app, &b).await, 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_requests_with_one_key_charge_once_and_all_answer_the_same() {
    let app = spawn_app_with(&[]).await;
    let c = caller(&app).await;
    let results = join_all((0..20).map(|_| async {
        let res = charge(&app, &c, 500, Some("double-click")).await;
        (res.status(), res.text().await.unwrap())
    }))
    .await;
    for (status, body) in &results {
        assert_eq!(*status, StatusCode::OK, "{body}");
        assert_eq!(body, &results[0].1);
    }
    assert_eq!(balance_of(&app, &c).await, 500);
    assert_eq!(ledger(&app, &c.user).await.len(), 1);
    assert_eq!(idempotency_records(&app, &c.user).await, 1);
}

// ------------------------------------------------------------------ concurrency

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_concurrent_charges_of_one_won_make_a_balance_of_100_and_100_ledger_entries() {
    let app = spawn_app_with(&[]).await;
    let c = caller(&app).await;
    let started = Instant::now();
    let results = join_all((0..100).map(|_| async {
        let res = charge(&app, &c, 1, None).await;
        (res.status(), res.text().await.unwrap())
    }))
    .await;
    let elapsed = started.elapsed();
    for (status, body) in &results {
        assert_eq!(*status, StatusCode::OK, "{body}");
    }
    // Every answer is a different balance: no two charges saw the same one.
    let mut answered: Vec<u64> = results
        .iter()
        .map(|(_, b)| {
            serde_json::from_str::<Value>(b).unwrap()["balance"]
                .as_u64()
                .unwrap()
        })
        .collect();
    answered.sort_unstable();
    assert_eq!(answered, (1..=100).collect::<Vec<u64>>());

    assert_eq!(balance_of(&app, &c).await, 100);
    let entries = ledger(&app, &c.user).await;
    assert_eq!(entries.len(), 100);
    assert!(entries.iter().all(|e| e.amount == 1));
    assert_ledger_adds_up(&entries, 100);
    eprintln!("100 concurrent charges on one user over HTTP: {elapsed:?}");
}

// ------------------------------------------------------------------ round trips

/// The app's state with a DynamoDB client that counts its requests.
async fn counted_state(app: &TestApp) -> (AppState, Arc<Counter>) {
    devserver::counting::counted_state(app.state.settings.clone())
        .await
        .expect("state builds")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_charge_is_two_dynamodb_round_trips_a_replay_one_and_a_read_one() {
    let app = spawn_app_with(&[]).await;
    let (state, counter) = counted_state(&app).await;
    let user = UserId::parse(&unique("u")).unwrap();
    let request = |won| ChargeRequest {
        amount: Amount::new(won).unwrap(),
    };
    let key = IdempotencyKey::parse("rt-1").unwrap();

    balance::get(&state, &user).await.unwrap();
    assert_eq!(counter.take(), ["GetItem"], "a read");

    balance::charge(&state, &user, &request(5), None)
        .await
        .unwrap();
    assert_eq!(
        counter.take(),
        ["BatchGetItem", "TransactWriteItems"],
        "a first charge"
    );
    balance::charge(&state, &user, &request(5), Some(&key))
        .await
        .unwrap();
    assert_eq!(
        counter.take(),
        ["BatchGetItem", "TransactWriteItems"],
        "a keyed charge"
    );
    let replay = balance::charge(&state, &user, &request(5), Some(&key))
        .await
        .unwrap();
    assert_eq!(counter.take(), ["BatchGetItem"], "a replay");
    assert_eq!(replay.balance.get(), 10);
    balance::charge(&state, &user, &request(6), Some(&key))
        .await
        .unwrap_err();
    assert_eq!(counter.take(), ["BatchGetItem"], "a reused key");
    assert_eq!(balance::get(&state, &user).await.unwrap().get(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_charges_that_lose_the_race_retry_from_the_cancellation_without_a_new_read() {
    let app = spawn_app_with(&[]).await;
    let (state, counter) = counted_state(&app).await;
    let user = UserId::parse(&unique("u")).unwrap();
    let request = ChargeRequest {
        amount: Amount::new(1).unwrap(),
    };
    let results = join_all((0..100).map(|_| balance::charge(&state, &user, &request, None))).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(balance::get(&state, &user).await.unwrap().get(), 100);

    let calls = counter.take();
    let count = |op: &str| calls.iter().filter(|c| c.as_str() == op).count();
    assert_eq!(count("BatchGetItem"), 100, "one read per charge");
    assert_eq!(
        count("GetItem"),
        1,
        "only the final check reads the balance again"
    );
    assert!(count("TransactWriteItems") >= 100);
    eprintln!(
        "100 concurrent charges on one user: {} TransactWriteItems ({:.1} per charge)",
        count("TransactWriteItems"),
        count("TransactWriteItems") as f64 / 100.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_balance_transaction_hands_back_the_items_that_beat_it() {
    use shared::domain::Won;
    use shared::store::balance::BalanceOutcome;
    use shared::store::items::{BalanceItem, IdempotencyItem, IdempotencyScope};

    let app = spawn_app_with(&[]).await;
    let c = caller(&app).await;
    charge_ok(&app, &c, 5, Some("k-1")).await;

    let db = &app.state.db;
    let user = UserId::parse(&c.user).unwrap();
    let now = chrono::Utc::now();
    let key = IdempotencyKey::parse("k-1").unwrap();
    let record = IdempotencyItem::new(
        &user,
        IdempotencyScope::Charge,
        &key,
        "{}".into(),
        "{}".into(),
        now,
    );
    let entry = |n| {
        LedgerItem::new(
            &user,
            uuid::Uuid::new_v4(),
            LedgerKind::Charge,
            Won::new(n),
            Won::new(n),
            now,
        )
    };
    // Written as if the balance had never been charged, under a key that is taken: the key
    // is read first, since a same-key winner also moved the balance.
    let outcome = db
        .move_balance(
            None,
            &BalanceItem::new(&user, Won::new(1), now),
            &entry(1),
            Some(&record),
        )
        .await
        .unwrap();
    let BalanceOutcome::KeyTaken(Some(taken)) = outcome else {
        panic!("expected the key's record, got {outcome:?}");
    };
    assert_eq!(taken.request, r#"{"amount":5}"#);
    // Without a key, the balance as it is now comes back.
    let outcome = db
        .move_balance(
            None,
            &BalanceItem::new(&user, Won::new(2), now),
            &entry(2),
            None,
        )
        .await
        .unwrap();
    assert!(
        matches!(outcome, BalanceOutcome::BalanceMoved(Some(w)) if w == Won::new(5)),
        "{outcome:?}"
    );
    assert_eq!(ledger(&app, &c.user).await.len(), 1, "nothing was written");
}

/// Throughput against DynamoDB Local, for the closing note:
/// `cargo test -p devserver --test balance -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
#[ignore = "a benchmark, run by hand"]
async fn charge_throughput_against_dynamodb_local() {
    let app = spawn_app_with(&[]).await;
    let request = ChargeRequest {
        amount: Amount::new(1).unwrap(),
    };
    // Many users, 32 at a time: no contention.
    let users: Vec<UserId> = (0..32)
        .map(|_| UserId::parse(&unique("bench")).unwrap())
        .collect();
    let per_user = 50;
    let started = Instant::now();
    join_all(users.iter().map(|u| async {
        for _ in 0..per_user {
            balance::charge(&app.state, u, &request, None)
                .await
                .unwrap();
        }
    }))
    .await;
    let elapsed = started.elapsed();
    let n = users.len() * per_user;
    eprintln!(
        "{n} charges, 32 users in parallel: {elapsed:?}, {:.0} charges/s",
        n as f64 / elapsed.as_secs_f64()
    );

    // One user, 32 at a time: every commit but one per round loses the race.
    let one = UserId::parse(&unique("bench")).unwrap();
    let done = AtomicUsize::new(0);
    let started = Instant::now();
    join_all((0..32).map(|_| async {
        for _ in 0..per_user {
            balance::charge(&app.state, &one, &request, None)
                .await
                .unwrap();
            done.fetch_add(1, Ordering::Relaxed);
        }
    }))
    .await;
    let elapsed = started.elapsed();
    let n = done.load(Ordering::Relaxed);
    eprintln!(
        "{n} charges, one user, 32 in parallel: {elapsed:?}, {:.0} charges/s",
        n as f64 / elapsed.as_secs_f64()
    );
    assert_eq!(
        balance::get(&app.state, &one).await.unwrap().get(),
        n as u64
    );

    // Through HTTP, the guard's Redis script included, 32 users.
    let callers = join_all((0..32).map(|_| caller(&app))).await;
    let started = Instant::now();
    join_all(callers.iter().map(|c| async {
        for _ in 0..per_user {
            charge_ok(&app, c, 1, None).await;
        }
    }))
    .await;
    let elapsed = started.elapsed();
    let n = callers.len() * per_user;
    eprintln!(
        "{n} charges over HTTP, 32 users in parallel: {elapsed:?}, {:.0} charges/s",
        n as f64 / elapsed.as_secs_f64()
    );
}
