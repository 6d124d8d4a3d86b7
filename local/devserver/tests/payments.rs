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

mod common;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use common::{
    answer, assert_problem, get_raw, marker, reservation_raw, seat_status, spawn_app_with, stored,
    text, unique, user_items, TestApp,
};
use futures::future::join_all;
use reqwest::header::HeaderValue;
use reqwest::{Response, StatusCode};
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

// ------------------------------------------------------------------ helpers

/// A user of the app with a token for its concert.
struct Payer {
    user: String,
    token: String,
}

impl Payer {
    fn queue_token(&self) -> QueueToken {
        QueueToken::parse(&self.token).unwrap()
    }
}

/// A new user and a token; its view (for the caller to check ACTIVE or WAITING).
async fn new_payer(app: &TestApp) -> (Payer, Value) {
    let user = unique("u");
    let (status, view) = answer(app.issue_token(&user).await).await;
    assert_eq!(status, StatusCode::CREATED, "a new token: {view}");
    let token = view["token"].as_str().expect("a token").to_owned();
    (Payer { user, token }, view)
}

/// A new user with an ACTIVE token.
async fn active_payer(app: &TestApp) -> Payer {
    let (payer, view) = new_payer(app).await;
    assert_eq!(view["status"], "ACTIVE", "{view}");
    payer
}

/// A new ACTIVE token for a user whose token a payment spent.
async fn fresh_token(app: &TestApp, user: &str) -> String {
    let (status, view) = answer(app.issue_token(user).await).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "a spent token means a new one: {view}"
    );
    assert_eq!(view["status"], "ACTIVE", "{view}");
    view["token"].as_str().unwrap().to_owned()
}

async fn charge(app: &TestApp, p: &Payer, amount: u64) {
    let (status, body) = answer(
        app.post_json(
            &format!("/users/{}/balance/charges", p.user),
            Some(&p.token),
            &json!({ "amount": amount }),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "charge of {amount}: {body}");
}

/// A hold over HTTP that must succeed; its reservation ID.
async fn hold(app: &TestApp, p: &Payer, date: &str, seat: u16) -> ReservationId {
    let (status, body) = answer(
        app.post_json(
            "/reservations",
            Some(&p.token),
            &json!({"userId": p.user, "concertId": app.concert, "date": date, "seatNo": seat}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "hold of seat {seat}: {body}");
    ReservationId::parse(body["reservationId"].as_str().unwrap()).unwrap()
}

/// A payment through the flow, with the token taken to be of the reservation's concert.
async fn pay_flow(
    state: &AppState,
    token: &QueueToken,
    request: &PayRequest,
    key: Option<&IdempotencyKey>,
) -> Result<Paid, ApiError> {
    let concert = match state.db.get_reservation(&request.reservation_id).await {
        Ok(Some(r)) => r.concert_id,
        _ => ConcertId::parse("unknown").unwrap(),
    };
    let payer = payments::Payer {
        token,
        concert: &concert,
    };
    payments::pay(state, payer, request, key).await
}

/// A hold through the flow, without a token (the token may be spent by then).
async fn hold_direct(
    state: &AppState,
    concert: &str,
    user: &str,
    date: &str,
    seat: u16,
) -> Result<Reservation, ApiError> {
    holds::hold(
        state,
        HoldRequest {
            user: UserId::parse(user).unwrap(),
            concert: ConcertId::parse(concert).unwrap(),
            date: ConcertDate::parse(date).unwrap(),
            seat: SeatNo::new(i64::from(seat)).unwrap(),
        },
    )
    .await
}

async fn post_payment(
    app: &TestApp,
    token: Option<&str>,
    key: Option<&str>,
    body: String,
) -> Response {
    let key = key.map(|k| HeaderValue::from_str(k).expect("a header-safe key"));
    app.post_keyed("/payments", token, key, body).await
}

/// `POST /payments` with `token` for `user` and `reservation`.
async fn pay(
    app: &TestApp,
    token: &str,
    user: &str,
    reservation: &ReservationId,
    key: Option<&str>,
) -> Response {
    post_payment(
        app,
        Some(token),
        key,
        json!({"userId": user, "reservationId": reservation.to_string()}).to_string(),
    )
    .await
}

fn pay_request(user: &str, reservation: &ReservationId) -> PayRequest {
    PayRequest {
        user_id: UserId::parse(user).unwrap(),
        reservation_id: *reservation,
    }
}

fn code_of<T>(result: &Result<T, ApiError>) -> &'static str {
    match result {
        Ok(_) => "OK",
        Err(e) => e.parts().1,
    }
}

/// The payment item `RESERVATION#{rid}` / `PAYMENT` in the reservations table.
async fn payment_item(app: &TestApp, id: &ReservationId) -> Option<Item> {
    get_raw(
        app,
        &app.state.db.reservations,
        keys::reservation_pk(id),
        keys::PAYMENT_SK,
    )
    .await
}

async fn ledger(app: &TestApp, user: &str) -> Vec<LedgerItem> {
    user_items(app, user, keys::LEDGER_SK_PREFIX)
        .await
        .into_iter()
        .map(|i| from_item(i).expect("a ledger item"))
        .collect()
}

/// The balance as stored; 0 for a user who never charged.
async fn balance_in_db(app: &TestApp, user: &str) -> u64 {
    balance::get(&app.state, &UserId::parse(user).unwrap())
        .await
        .expect("DynamoDB answers")
        .get()
}

/// Everything a payment of `reservation` (seat `seat` of `date`) by `user` could write.
#[derive(Debug, PartialEq)]
struct Snapshot {
    user_items: Vec<Item>,
    reservation: Option<Item>,
    marker: Option<Item>,
    payment: Option<Item>,
}

async fn snapshot(
    app: &TestApp,
    user: &str,
    reservation: &ReservationId,
    date: &str,
    seat: u16,
) -> Snapshot {
    Snapshot {
        user_items: user_items(app, user, "").await,
        reservation: reservation_raw(app, reservation).await,
        marker: marker(app, &app.concert, date, seat).await,
        payment: payment_item(app, reservation).await,
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ`.
fn instant(value: &Value) -> DateTime<Utc> {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("an instant: {value}"));
    assert!(
        text.len() == 20 && text.ends_with('Z') && text.as_bytes()[10] == b'T',
        "{text:?} is not YYYY-MM-DDTHH:MM:SSZ"
    );
    DateTime::parse_from_rfc3339(text)
        .expect("RFC 3339")
        .with_timezone(&Utc)
}

/// Sleeps until `at_ms` (epoch milliseconds) has passed by `margin_ms`.
async fn sleep_past(at_ms: i64, margin_ms: i64) {
    let wait = at_ms + margin_ms - Utc::now().timestamp_millis();
    if wait > 0 {
        tokio::time::sleep(Duration::from_millis(wait as u64)).await;
    }
}

// ------------------------------------------------------------------ the happy path

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_is_201_and_sells_the_seat_confirms_the_reservation_debits_the_balance_spends_the_token_and_admits_the_next_user(
) {
    let app = spawn_app_with(&[("QUEUE_ACTIVE_LIMIT", "1")]).await;
    let a = active_payer(&app).await;
    let (b, b_view) = new_payer(&app).await;
    assert_eq!(b_view["status"], "WAITING", "one active place: {b_view}");
    let date = app.dates[0].clone();

    charge(&app, &a, PRICE).await;
    let rid = hold(&app, &a, &date, 7).await;
    let before = Utc::now();
    let res = pay(&app, &a.token, &a.user, &rid, None).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.headers()["content-type"], "application/json");
    let body: Value = res.json().await.unwrap();

    let fields: BTreeSet<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(fields, PAYMENT_FIELDS.into_iter().collect(), "{body}");
    let payment_id = PaymentId::parse(body["paymentId"].as_str().unwrap()).expect("a UUID");
    assert_eq!(body["reservationId"], rid.to_string());
    assert_eq!(body["userId"], a.user);
    assert_eq!(body["amount"], PRICE);
    assert_eq!(body["balance"], 0);
    assert_eq!(body["status"], "COMPLETED");
    let paid_at = instant(&body["paidAt"]);
    assert!(paid_at >= before - chrono::Duration::seconds(1) && paid_at <= Utc::now());

    // The payer's token is spent.
    let res = app.status(&a.token).await;
    assert_problem(res, StatusCode::UNAUTHORIZED, "TOKEN_EXPIRED").await;
    let res = app
        .get(&format!("/reservations/{rid}"), Some(&a.token))
        .await;
    assert_problem(res, StatusCode::UNAUTHORIZED, "TOKEN_EXPIRED").await;

    // The waiting user is admitted on their next poll, and sees the seat SOLD.
    let (status, view) = answer(app.status(&b.token).await).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(
        view["status"], "ACTIVE",
        "the freed place goes to the next: {view}"
    );
    assert_eq!(seat_status(&app, &b.token, &date, 7).await, "SOLD");
    assert_eq!(seat_status(&app, &b.token, &date, 8).await, "AVAILABLE");

    // The stores.
    let r = stored(&app, &rid).await;
    assert_eq!(r.status, ReservationStatus::Confirmed);
    assert_eq!(r.payment_id, Some(payment_id));
    assert!(
        r.held_shard.is_none(),
        "a paid reservation leaves the sweep index"
    );
    assert_eq!(balance_in_db(&app, &a.user).await, 0);
    let entries = ledger(&app, &a.user).await;
    assert_eq!(entries.len(), 2, "{entries:?}");
    let paid: Vec<&LedgerItem> = entries
        .iter()
        .filter(|e| e.kind == LedgerKind::Payment)
        .collect();
    assert_eq!(paid.len(), 1, "{entries:?}");
    assert_eq!(paid[0].amount, -(PRICE as i64));
    assert_eq!(paid[0].balance_after.get(), 0);
    assert_eq!(&paid[0].entry_id, payment_id.as_uuid());
    assert_eq!(entries.iter().map(|e| e.amount).sum::<i64>(), 0);

    let m = marker(&app, &app.concert, &date, 7)
        .await
        .expect("the seat's marker");
    assert_eq!(text(&m, "status"), "SOLD");
    assert_eq!(text(&m, "reservationId"), rid.to_string());
    assert!(!m.contains_key("ttl"), "a sale has no TTL: {m:?}");
    let p = payment_item(&app, &rid)
        .await
        .expect("the payment is recorded");
    assert_eq!(text(&p, "paymentId"), payment_id.to_string());
}

// ------------------------------------------------------------------ refusals

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_balance_below_the_price_is_409_insufficient_balance_writes_nothing_and_keeps_the_token()
{
    let app = spawn_app_with(&[]).await;
    let date = app.dates[0].clone();

    // Charged, but one won short.
    let a = active_payer(&app).await;
    charge(&app, &a, PRICE - 1).await;
    let rid = hold(&app, &a, &date, 3).await;
    let before = snapshot(&app, &a.user, &rid, &date, 3).await;
    let res = pay(&app, &a.token, &a.user, &rid, Some("k-1")).await;
    assert_problem(res, StatusCode::CONFLICT, "INSUFFICIENT_BALANCE").await;
    assert_eq!(snapshot(&app, &a.user, &rid, &date, 3).await, before);
    assert_eq!(balance_in_db(&app, &a.user).await, PRICE - 1);
    assert_eq!(ledger(&app, &a.user).await.len(), 1);
    assert_eq!(stored(&app, &rid).await.status, ReservationStatus::Held);
    assert_eq!(seat_status(&app, &a.token, &date, 3).await, "HELD");

    // Never charged at all.
    let b = active_payer(&app).await;
    let rid_b = hold(&app, &b, &date, 4).await;
    let before = snapshot(&app, &b.user, &rid_b, &date, 4).await;
    let res = pay(&app, &b.token, &b.user, &rid_b, None).await;
    assert_problem(res, StatusCode::CONFLICT, "INSUFFICIENT_BALANCE").await;
    assert_eq!(snapshot(&app, &b.user, &rid_b, &date, 4).await, before);
    assert!(before.user_items.is_empty(), "{:?}", before.user_items);

    // The tokens are not spent; after a top-up the same hold is paid.
    let (status, view) = answer(app.status(&a.token).await).await;
    assert_eq!(
        (status, &view["status"]),
        (StatusCode::OK, &json!("ACTIVE"))
    );
    charge(&app, &a, 1).await;
    let res = pay(&app, &a.token, &a.user, &rid, Some("k-1")).await;
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "a refusal does not bind the key"
    );
    assert_eq!(balance_in_db(&app, &a.user).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_2_second_hold_ttl_paying_an_expired_hold_is_409_reservation_expired_released_yet_or_not_and_writes_nothing(
) {
    let app = spawn_app_with(&[("HOLD_TTL_SECONDS", "2")]).await;
    let date = app.dates[0].clone();
    let a = active_payer(&app).await;
    charge(&app, &a, 3 * PRICE).await;
    let unreleased = hold(&app, &a, &date, 1).await;
    let released = hold(&app, &a, &date, 2).await;
    let expires = stored(&app, &released).await.expires_at;
    sleep_past(expires, 300).await;

    // Not released yet: the marker still says HELD (unless a sweep of another test ran).
    let before = snapshot(&app, &a.user, &unreleased, &date, 1).await;
    let res = pay(&app, &a.token, &a.user, &unreleased, None).await;
    let problem = assert_problem(res, StatusCode::CONFLICT, "RESERVATION_EXPIRED").await;
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains(&unreleased.to_string()));
    let after = snapshot(&app, &a.user, &unreleased, &date, 1).await;
    assert_eq!(after.user_items, before.user_items, "no money moved");
    assert_eq!(after.payment, None);
    if after.reservation != before.reservation {
        // A sweep released it in between: that is a release, not the payment.
        let r = stored(&app, &unreleased).await;
        assert_eq!(r.status, ReservationStatus::Expired);
        assert_eq!(after.marker, None);
    } else {
        assert_eq!(after.marker, before.marker);
        assert_eq!(
            stored(&app, &unreleased).await.status,
            ReservationStatus::Held
        );
    }

    // Released: the reservation is EXPIRED and the marker gone.
    let r = stored(&app, &released).await;
    let outcome = holds::release(&app.state, &HoldRef::from(&r))
        .await
        .unwrap();
    assert!(
        matches!(outcome, Released::Released | Released::Nothing),
        "{outcome:?}"
    );
    assert_eq!(
        stored(&app, &released).await.status,
        ReservationStatus::Expired
    );
    let before = snapshot(&app, &a.user, &released, &date, 2).await;
    assert_eq!(before.marker, None);
    let res = pay(&app, &a.token, &a.user, &released, None).await;
    assert_problem(res, StatusCode::CONFLICT, "RESERVATION_EXPIRED").await;
    assert_eq!(snapshot(&app, &a.user, &released, &date, 2).await, before);

    assert_eq!(balance_in_db(&app, &a.user).await, 3 * PRICE);
    assert_eq!(ledger(&app, &a.user).await.len(), 1);
    assert_eq!(seat_status(&app, &a.token, &date, 1).await, "AVAILABLE");
    assert_eq!(seat_status(&app, &a.token, &date, 2).await, "AVAILABLE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paying_an_already_paid_reservation_with_a_new_token_is_409_reservation_not_held_and_debits_once(
) {
    let app = spawn_app_with(&[]).await;
    let date = app.dates[1].clone();
    let a = active_payer(&app).await;
    charge(&app, &a, 2 * PRICE).await;
    let rid = hold(&app, &a, &date, 9).await;
    let res = pay(&app, &a.token, &a.user, &rid, None).await;
    assert_eq!(res.status(), StatusCode::CREATED);

    let token = fresh_token(&app, &a.user).await;
    assert_ne!(token, a.token);
    let before = snapshot(&app, &a.user, &rid, &date, 9).await;
    let res = pay(&app, &token, &a.user, &rid, None).await;
    let problem = assert_problem(res, StatusCode::CONFLICT, "RESERVATION_NOT_HELD").await;
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains(&rid.to_string()));
    assert_eq!(snapshot(&app, &a.user, &rid, &date, 9).await, before);

    assert_eq!(balance_in_db(&app, &a.user).await, PRICE, "debited once");
    let entries = ledger(&app, &a.user).await;
    let payments = entries
        .iter()
        .filter(|e| e.kind == LedgerKind::Payment)
        .count();
    assert_eq!((entries.len(), payments), (2, 1), "{entries:?}");
    assert_eq!(
        stored(&app, &rid).await.status,
        ReservationStatus::Confirmed
    );
    assert_eq!(seat_status(&app, &token, &date, 9).await, "SOLD");
    // A refused payment does not spend the token.
    assert_eq!(app.status(&token).await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paying_another_users_reservation_is_403_forbidden_and_writes_nothing() {
    let app = spawn_app_with(&[]).await;
    let date = app.dates[0].clone();
    let owner = active_payer(&app).await;
    let other = active_payer(&app).await;
    charge(&app, &other, 2 * PRICE).await;
    let rid = hold(&app, &owner, &date, 11).await;

    let owner_before = snapshot(&app, &owner.user, &rid, &date, 11).await;
    let other_before = user_items(&app, &other.user, "").await;
    let res = pay(&app, &other.token, &other.user, &rid, None).await;
    assert_problem(res, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    assert_eq!(
        snapshot(&app, &owner.user, &rid, &date, 11).await,
        owner_before
    );
    assert_eq!(user_items(&app, &other.user, "").await, other_before);
    assert_eq!(balance_in_db(&app, &other.user).await, 2 * PRICE);
    assert_eq!(stored(&app, &rid).await.status, ReservationStatus::Held);
    assert_eq!(seat_status(&app, &other.token, &date, 11).await, "HELD");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_user_id_other_than_the_tokens_user_is_403_forbidden_and_writes_nothing() {
    let app = spawn_app_with(&[]).await;
    let date = app.dates[0].clone();
    let owner = active_payer(&app).await;
    let other = active_payer(&app).await;
    charge(&app, &owner, PRICE).await;
    charge(&app, &other, PRICE).await;
    let rid = hold(&app, &owner, &date, 12).await;

    let owner_before = snapshot(&app, &owner.user, &rid, &date, 12).await;
    let other_before = user_items(&app, &other.user, "").await;
    // The other user's token, paying as the owner.
    let res = pay(&app, &other.token, &owner.user, &rid, None).await;
    assert_problem(res, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    // The owner's token, paying as the other user.
    let res = pay(&app, &owner.token, &other.user, &rid, None).await;
    assert_problem(res, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    assert_eq!(
        snapshot(&app, &owner.user, &rid, &date, 12).await,
        owner_before
    );
    assert_eq!(user_items(&app, &other.user, "").await, other_before);
    // Neither token was spent.
    assert_eq!(app.status(&owner.token).await.status(), StatusCode::OK);
    assert_eq!(app.status(&other.token).await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_reservation_is_404_not_found_and_writes_nothing() {
    let app = spawn_app_with(&[]).await;
    let a = active_payer(&app).await;
    charge(&app, &a, PRICE).await;
    let unknown = ReservationId::generate();
    let before = user_items(&app, &a.user, "").await;
    let res = pay(&app, &a.token, &a.user, &unknown, Some("k-404")).await;
    let problem = assert_problem(res, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains(&unknown.to_string()));
    assert_eq!(user_items(&app, &a.user, "").await, before);
    assert_eq!(payment_item(&app, &unknown).await, None);
    assert_eq!(reservation_raw(&app, &unknown).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_body_or_key_is_400_naming_the_field_and_writes_nothing() {
    let app = spawn_app_with(&[]).await;
    let date = app.dates[0].clone();
    let a = active_payer(&app).await;
    charge(&app, &a, PRICE).await;
    let rid = hold(&app, &a, &date, 13).await;
    let before = snapshot(&app, &a.user, &rid, &date, 13).await;
    let (u, r) = (a.user.as_str(), rid.to_string());
    let long = "u".repeat(65);
    let cases: Vec<(String, &str)> = vec![
        (json!({ "reservationId": r }).to_string(), "userId"),
        (json!({ "userId": u }).to_string(), "reservationId"),
        (
            json!({ "userId": u, "reservationId": "not-a-uuid" }).to_string(),
            "reservationId",
        ),
        (
            json!({ "userId": u, "reservationId": 5 }).to_string(),
            "reservationId",
        ),
        (
            json!({ "userId": u, "reservationId": null }).to_string(),
            "reservationId",
        ),
        (
            json!({ "userId": "bad user", "reservationId": r }).to_string(),
            "userId",
        ),
        (
            json!({ "userId": long, "reservationId": r }).to_string(),
            "userId",
        ),
        (
            json!({ "userId": 7, "reservationId": r }).to_string(),
            "userId",
        ),
        (
            json!({ "userId": u, "reservationId": r, "amount": 1 }).to_string(),
            "amount",
        ),
        (format!(r#"[{u:?}, {r:?}]"#), "body"),
        ("{".into(), "body"),
        ("not json".into(), "body"),
        (String::new(), "body"),
        (
            format!(r#"{{"userId": {u:?}, "reservationId": {r:?}}} {{}}"#),
            "body",
        ),
    ];
    for (raw, field) in cases {
        let res = post_payment(&app, Some(&a.token), None, raw.clone()).await;
        let problem = assert_problem(res, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            detail.starts_with(&format!("{field}:")),
            "{raw:?}: the detail {detail:?} names {field}"
        );
    }
    let good = json!({ "userId": u, "reservationId": r }).to_string();
    let long_key = "k".repeat(129);
    for key in ["", "two words", long_key.as_str()] {
        let res = post_payment(&app, Some(&a.token), Some(key), good.clone()).await;
        let problem = assert_problem(res, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.starts_with("Idempotency-Key:"), "{key:?}: {detail}");
    }
    assert_eq!(snapshot(&app, &a.user, &rid, &date, 13).await, before);
    assert_eq!(app.status(&a.token).await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_token_is_403_token_not_active_and_a_missing_one_401_and_nothing_is_written() {
    let app = spawn_app_with(&[("QUEUE_ACTIVE_LIMIT", "1")]).await;
    let date = app.dates[0].clone();
    let a = active_payer(&app).await;
    let (w, view) = new_payer(&app).await;
    assert_eq!(view["status"], "WAITING", "{view}");
    charge(&app, &a, PRICE).await;
    charge(&app, &w, PRICE).await;
    let rid = hold(&app, &a, &date, 14).await;
    let before = snapshot(&app, &a.user, &rid, &date, 14).await;
    let w_before = user_items(&app, &w.user, "").await;

    // The waiting user pays: for themselves, and as the active user.
    let res = pay(&app, &w.token, &w.user, &rid, None).await;
    assert_problem(res, StatusCode::FORBIDDEN, "TOKEN_NOT_ACTIVE").await;
    let res = pay(&app, &w.token, &a.user, &rid, None).await;
    assert_problem(res, StatusCode::FORBIDDEN, "TOKEN_NOT_ACTIVE").await;
    let body = json!({"userId": a.user, "reservationId": rid.to_string()}).to_string();
    let res = post_payment(&app, None, None, body.clone()).await;
    assert_problem(res, StatusCode::UNAUTHORIZED, "TOKEN_MISSING").await;
    let unknown = QueueToken::generate().to_string();
    let res = post_payment(&app, Some(&unknown), None, body).await;
    assert_problem(res, StatusCode::UNAUTHORIZED, "TOKEN_INVALID").await;

    assert_eq!(snapshot(&app, &a.user, &rid, &date, 14).await, before);
    assert_eq!(user_items(&app, &w.user, "").await, w_before);
    let (_, view) = answer(app.status(&w.token).await).await;
    assert_eq!(view["status"], "WAITING", "{view}");
}

// ------------------------------------------------------------------ idempotency

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_key_and_body_replays_the_first_answer_and_writes_nothing() {
    let app = spawn_app_with(&[]).await;
    let date = app.dates[0].clone();
    let a = active_payer(&app).await;
    charge(&app, &a, 3 * PRICE).await;
    let rid = hold(&app, &a, &date, 15).await;
    let key = IdempotencyKey::parse("pay-once").unwrap();
    let request = pay_request(&a.user, &rid);

    let first = pay_flow(&app.state, &a.queue_token(), &request, Some(&key))
        .await
        .expect("the first payment");
    let after_first = snapshot(&app, &a.user, &rid, &date, 15).await;
    let second = pay_flow(&app.state, &a.queue_token(), &request, Some(&key))
        .await
        .expect("the replay");
    assert_eq!(second, first, "the identical answer");
    assert_eq!(snapshot(&app, &a.user, &rid, &date, 15).await, after_first);

    // Over HTTP with a new token (the first one is spent): the very same body again.
    let token = fresh_token(&app, &a.user).await;
    let res = pay(&app, &token, &a.user, &rid, Some("pay-once")).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let view = serde_json::to_value(PaymentView::from(&first)).unwrap();
    assert_eq!(res.json::<Value>().await.unwrap(), view);
    assert_eq!(snapshot(&app, &a.user, &rid, &date, 15).await, after_first);

    assert_eq!(balance_in_db(&app, &a.user).await, 2 * PRICE);
    let payments = ledger(&app, &a.user)
        .await
        .iter()
        .filter(|e| e.kind == LedgerKind::Payment)
        .count();
    assert_eq!(payments, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_key_with_another_body_is_422_idempotency_key_reused_and_writes_nothing() {
    let app = spawn_app_with(&[]).await;
    let date = app.dates[0].clone();
    let a = active_payer(&app).await;
    charge(&app, &a, 3 * PRICE).await;
    let first_rid = hold(&app, &a, &date, 16).await;
    let second_rid = hold(&app, &a, &date, 17).await;
    let res = pay(&app, &a.token, &a.user, &first_rid, Some("k-reused")).await;
    assert_eq!(res.status(), StatusCode::CREATED);

    // Over HTTP, with a new token.
    let token = fresh_token(&app, &a.user).await;
    let before = snapshot(&app, &a.user, &second_rid, &date, 17).await;
    let res = pay(&app, &token, &a.user, &second_rid, Some("k-reused")).await;
    assert_problem(
        res,
        StatusCode::UNPROCESSABLE_ENTITY,
        "IDEMPOTENCY_KEY_REUSED",
    )
    .await;
    assert_eq!(
        snapshot(&app, &a.user, &second_rid, &date, 17).await,
        before
    );

    // At the flow level.
    let key = IdempotencyKey::parse("k-reused").unwrap();
    let request = pay_request(&a.user, &second_rid);
    let err = pay_flow(&app.state, &a.queue_token(), &request, Some(&key))
        .await
        .expect_err("another body under the key");
    assert!(matches!(err, ApiError::IdempotencyKeyReused), "{err:?}");
    assert_eq!(
        snapshot(&app, &a.user, &second_rid, &date, 17).await,
        before
    );

    assert_eq!(
        stored(&app, &second_rid).await.status,
        ReservationStatus::Held
    );
    assert_eq!(balance_in_db(&app, &a.user).await, 2 * PRICE);
    // Another key pays it.
    let res = pay(&app, &token, &a.user, &second_rid, Some("k-other")).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(balance_in_db(&app, &a.user).await, PRICE);
}

// ------------------------------------------------------------------ races

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_payments_of_one_reservation_succeed_once_and_debit_the_balance_once() {
    let app = spawn_app_with(&[]).await;
    let date = app.dates[0].clone();
    let a = active_payer(&app).await;
    // Exactly the price: a loser that retried on the moved balance would see too little.
    charge(&app, &a, PRICE).await;
    let rid = hold(&app, &a, &date, 20).await;

    let barrier = Arc::new(tokio::sync::Barrier::new(20));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let state = app.state.clone();
            let token = a.queue_token();
            let request = pay_request(&a.user, &rid);
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                pay_flow(&state, &token, &request, None).await
            })
        })
        .collect();
    let results: Vec<Result<Paid, ApiError>> = join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.expect("the task ran"))
        .collect();

    let mut codes: HashMap<&str, usize> = HashMap::new();
    for r in &results {
        *codes.entry(code_of(r)).or_default() += 1;
    }
    assert_eq!(
        codes,
        HashMap::from([("OK", 1), ("RESERVATION_NOT_HELD", 19)]),
        "{results:?}"
    );
    assert!(results.iter().any(|r| r.is_ok()));

    assert_eq!(balance_in_db(&app, &a.user).await, 0, "debited once");
    let entries = ledger(&app, &a.user).await;
    let payments: Vec<_> = entries
        .iter()
        .filter(|e| e.kind == LedgerKind::Payment)
        .collect();
    assert_eq!(payments.len(), 1, "{entries:?}");
    assert_eq!(entries.iter().map(|e| e.amount).sum::<i64>(), 0);
    assert!(payment_item(&app, &rid).await.is_some());
    assert_eq!(
        stored(&app, &rid).await.status,
        ReservationStatus::Confirmed
    );
    let m = marker(&app, &app.concert, &date, 20).await.unwrap();
    assert_eq!(text(&m, "status"), "SOLD");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_a_1_second_hold_ttl_payments_racing_the_expiry_end_paid_or_expired_never_both() {
    let app = spawn_app_with(&[("HOLD_TTL_SECONDS", "1")]).await;
    let user = unique("u");
    let uid = UserId::parse(&user).unwrap();
    let token = QueueToken::generate();
    const SEATS: u16 = 12;
    balance::charge(
        &app.state,
        &uid,
        &ChargeRequest {
            amount: Amount::new((u64::from(SEATS) * PRICE) as i64).unwrap(),
        },
        None,
    )
    .await
    .unwrap();
    let date = app.dates[1].clone();

    let mut paid = 0u64;
    let mut expired = 0u64;
    // Two rounds of six seats, each paid at its own offset around its expiry.
    for round in 0..2u16 {
        let seats: Vec<u16> = (1..=SEATS / 2).map(|s| round * (SEATS / 2) + s).collect();
        let held = join_all(
            seats
                .iter()
                .map(|&s| hold_direct(&app.state, &app.concert, &user, &date, s)),
        )
        .await;
        let held: Vec<Reservation> = held.into_iter().map(|h| h.expect("held")).collect();
        let tasks: Vec<_> = held
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let state = app.state.clone();
                let request = pay_request(&user, &r.reservation_id);
                let hold = HoldRef::from(r);
                let expiry = r.expires_at.timestamp_millis();
                // The first round from 150 ms before the expiry to 100 ms after it, with no
                // release; the second from 30 ms before to 20 ms after, racing a release fired
                // 1 ms after the expiry. Three payments 7 ms apart each time.
                let i = i as i64;
                let start = if round == 0 {
                    expiry - 150 + 50 * i
                } else {
                    expiry - 30 + 10 * i
                };
                tokio::spawn(async move {
                    let mut fired = Vec::new();
                    let release = (round == 1).then(|| {
                        let state = state.clone();
                        tokio::spawn(async move {
                            sleep_past(expiry, 1).await;
                            holds::release(&state, &hold).await
                        })
                    });
                    for k in 0..3 {
                        sleep_past(start, 7 * k).await;
                        let state = state.clone();
                        let request = request.clone();
                        fired.push(tokio::spawn(async move {
                            pay_flow(&state, &token, &request, None).await
                        }));
                    }
                    if let Some(release) = release {
                        let released = release.await.expect("the task ran");
                        assert!(released.is_ok(), "the release: {released:?}");
                    }
                    join_all(fired)
                        .await
                        .into_iter()
                        .map(|r| r.expect("the task ran"))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let outcomes = join_all(tasks).await;
        for ((r, outcome), seat) in held.iter().zip(outcomes).zip(&seats) {
            let results = outcome.expect("the task ran");
            let codes: Vec<&str> = results.iter().map(code_of).collect();
            let oks = codes.iter().filter(|c| **c == "OK").count();
            let rid = r.reservation_id;
            let now = stored(&app, &rid).await;
            let m = marker(&app, &app.concert, &date, *seat).await;
            let sold = m.as_ref().is_some_and(|m| text(m, "status") == "SOLD");
            let payment = payment_item(&app, &rid).await;
            if oks > 0 {
                assert_eq!(oks, 1, "seat {seat}: {codes:?}");
                // A duplicate that read the reservation while the winner was committing, at an
                // instant past the expiry, was refused as expired: that refusal wrote nothing.
                assert!(
                    codes.iter().all(|c| {
                        ["OK", "RESERVATION_NOT_HELD", "RESERVATION_EXPIRED"].contains(c)
                    }),
                    "seat {seat}: paid, and the others refused: {codes:?}"
                );
                assert_eq!(now.status, ReservationStatus::Confirmed, "seat {seat}");
                assert!(sold, "seat {seat}: paid but the marker is {m:?}");
                assert_eq!(text(m.as_ref().unwrap(), "reservationId"), rid.to_string());
                assert!(
                    payment.is_some(),
                    "seat {seat}: paid without a payment item"
                );
                paid += 1;
            } else {
                assert!(
                    codes.iter().all(|c| *c == "RESERVATION_EXPIRED"),
                    "seat {seat}: not paid, so expired: {codes:?}"
                );
                assert_ne!(now.status, ReservationStatus::Confirmed, "seat {seat}");
                assert!(!sold, "seat {seat}: expired but SOLD: {m:?}");
                assert!(payment.is_none(), "seat {seat}: expired with a payment");
                if round == 1 {
                    assert_eq!(
                        now.status,
                        ReservationStatus::Expired,
                        "seat {seat}: released"
                    );
                    assert!(
                        m.is_none(),
                        "seat {seat}: released, but the marker is {m:?}"
                    );
                }
                expired += 1;
            }
        }
    }
    eprintln!("payments racing the expiry: {paid} paid, {expired} expired");

    // The money adds up, and no SOLD seat points at a reservation that is not CONFIRMED.
    let balance = balance_in_db(&app, &user).await;
    assert_eq!(balance, (u64::from(SEATS) - paid) * PRICE);
    let entries = ledger(&app, &user).await;
    assert_eq!(entries.len() as u64, 1 + paid);
    assert_eq!(
        entries.iter().map(|e| e.amount).sum::<i64>(),
        balance as i64
    );
    let sold = sold_markers(&app).await;
    assert_eq!(sold.len() as u64, paid);
    for (_, rid) in sold {
        assert_eq!(
            stored(&app, &rid).await.status,
            ReservationStatus::Confirmed
        );
    }
}

/// Every SOLD marker of the app's concert, as (date, reservation).
async fn sold_markers(app: &TestApp) -> Vec<(String, ReservationId)> {
    let concert = ConcertId::parse(&app.concert).unwrap();
    let mut sold = Vec::new();
    for date in &app.dates {
        let pk = keys::seats_pk(&concert, &ConcertDate::parse(date).unwrap());
        let mut start = None;
        loop {
            let out = app
                .state
                .db
                .client
                .query()
                .table_name(&app.state.db.table)
                .key_condition_expression("PK = :pk")
                .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("DynamoDB answers");
            for item in out.items.unwrap_or_default() {
                if text(&item, "SK").ends_with("#HOLD") && text(&item, "status") == "SOLD" {
                    let rid = ReservationId::parse(&text(&item, "reservationId")).unwrap();
                    sold.push((date.clone(), rid));
                }
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
    }
    sold
}

// ------------------------------------------------------------------ invariants

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_a_concurrent_storm_of_charges_and_payments_every_balance_is_its_ledger_sum_and_every_sold_seat_has_one_confirmed_reservation_and_one_payment(
) {
    let app = spawn_app_with(&[]).await;
    const USERS: usize = 10;
    const CHARGES: u64 = 5;
    const CHARGE: u64 = 20_000; // 100,000 each: two of the three payments can succeed
    const HOLDS: u16 = 3;
    let users: Vec<String> = (0..USERS).map(|_| unique("storm")).collect();
    let date = app.dates[0].clone();

    let mut tasks = Vec::new();
    for (i, user) in users.iter().enumerate() {
        let uid = UserId::parse(user).unwrap();
        for _ in 0..CHARGES {
            let (state, uid) = (app.state.clone(), uid.clone());
            tasks.push(tokio::spawn(async move {
                let request = ChargeRequest {
                    amount: Amount::new(CHARGE as i64).unwrap(),
                };
                let r = balance::charge(&state, &uid, &request, None).await;
                ("charge", code_of(&r), None)
            }));
        }
        // Seats 1-30 are each one user's; seats 31-35 every user wants at once.
        let mut seats: Vec<u16> = (0..HOLDS).map(|h| i as u16 * HOLDS + h + 1).collect();
        seats.push(31 + (i as u16 % 5));
        for seat in seats {
            let (state, user, concert, date) = (
                app.state.clone(),
                user.clone(),
                app.concert.clone(),
                date.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let held = match hold_direct(&state, &concert, &user, &date, seat).await {
                    Ok(r) => r,
                    Err(e) => return ("hold", e.parts().1, None),
                };
                let request = pay_request(&user, &held.reservation_id);
                let token = QueueToken::generate();
                // Like a client topping up meanwhile: short of money, it tries again a while.
                let mut r = pay_flow(&state, &token, &request, None).await;
                for _ in 0..20 {
                    if code_of(&r) != "INSUFFICIENT_BALANCE" {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    r = pay_flow(&state, &token, &request, None).await;
                }
                ("pay", code_of(&r), Some(held.reservation_id))
            }));
        }
    }
    let outcomes: Vec<_> = join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.expect("the task ran"))
        .collect();

    let mut tally: HashMap<(&str, &str), usize> = HashMap::new();
    for &(what, code, _) in &outcomes {
        *tally.entry((what, code)).or_default() += 1;
    }
    eprintln!("storm: {tally:?}");
    for (what, code) in tally.keys() {
        let allowed: &[&str] = match *what {
            "charge" => &["OK"],
            "hold" => &["SEAT_UNAVAILABLE"],
            _ => &["OK", "INSUFFICIENT_BALANCE"],
        };
        assert!(allowed.contains(code), "{what} answered {code}: {tally:?}");
    }
    assert_eq!(tally[&("charge", "OK")], USERS * CHARGES as usize);
    // Every user's own seats were held, and each of the five contested seats exactly once.
    let held = outcomes
        .iter()
        .filter(|(what, _, rid)| *what == "pay" && rid.is_some())
        .count();
    assert_eq!(held, USERS * usize::from(HOLDS) + 5);
    let paid: Vec<ReservationId> = outcomes
        .iter()
        .filter(|(what, code, _)| *what == "pay" && *code == "OK")
        .filter_map(|(_, _, rid)| *rid)
        .collect();

    // Balance = sum of the ledger, for every user; payments as many as succeeded.
    let mut total_paid = 0;
    for user in &users {
        let balance = balance_in_db(&app, user).await;
        let entries = ledger(&app, user).await;
        let sum: i64 = entries.iter().map(|e| e.amount).sum();
        assert_eq!(sum, balance as i64, "{user}: {entries:?}");
        let charges = entries
            .iter()
            .filter(|e| e.kind == LedgerKind::Charge)
            .count();
        assert_eq!(charges as u64, CHARGES, "{user}");
        let payments = entries
            .iter()
            .filter(|e| e.kind == LedgerKind::Payment)
            .count();
        assert!(
            payments <= 2,
            "{user} paid {payments} times with 100,000 won"
        );
        assert_eq!(
            balance,
            CHARGES * CHARGE - payments as u64 * PRICE,
            "{user}"
        );
        total_paid += payments;
    }
    assert_eq!(total_paid, paid.len());

    // Every SOLD marker: exactly one CONFIRMED reservation and one payment point at it.
    let sold = sold_markers(&app).await;
    assert_eq!(sold.len(), paid.len(), "one SOLD seat per payment");
    let sold_ids: HashSet<ReservationId> = sold.iter().map(|(_, rid)| *rid).collect();
    assert_eq!(
        sold_ids,
        paid.iter().copied().collect(),
        "the SOLD seats are the paid ones"
    );
    for (_, rid) in &sold {
        let r = stored(&app, rid).await;
        assert_eq!(r.status, ReservationStatus::Confirmed, "{rid}");
        let p = payment_item(&app, rid).await.expect("a payment item");
        assert_eq!(text(&p, "reservationId"), rid.to_string());
        assert_eq!(
            Some(text(&p, "paymentId")),
            r.payment_id.map(|p| p.to_string())
        );
    }
    // And every other reservation of the storm is neither CONFIRMED nor paid.
    for (_, code, rid) in &outcomes {
        let Some(rid) = rid else { continue };
        if *code != "OK" {
            assert_eq!(
                stored(&app, rid).await.status,
                ReservationStatus::Held,
                "{rid}"
            );
            assert!(payment_item(&app, rid).await.is_none(), "{rid}");
        }
    }
    // Seats confirmed at most once: no two CONFIRMED reservations for one seat.
    let mut per_seat: HashMap<u16, usize> = HashMap::new();
    for rid in &paid {
        *per_seat
            .entry(stored(&app, rid).await.seat_no.get())
            .or_default() += 1;
    }
    assert!(per_seat.values().all(|n| *n == 1), "{per_seat:?}");
}
