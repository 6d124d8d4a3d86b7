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

mod common;

use std::collections::{BTreeSet, HashMap};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use common::{
    answer, assert_problem, marker, reservation_raw, spawn_app_with, stored, text, unique, TestApp,
};
use futures::future::join_all;
use lambda_runtime::{Context, LambdaEvent};
use reqwest::StatusCode;
use serde_json::{json, Value};
use shared::domain::{ConcertDate, ConcertId, ReservationId, SeatNo, UserId, Won};
use shared::flows::holds::{release, sweep, Released};
use shared::store::dynamo::to_item;
use shared::store::items::{
    keys, HoldItem, HoldStatus, ReservationItem, ReservationStatus, SeatItem,
};
use shared::store::scripts::DatesCache;
use shared::store::seats::HoldRef;

/// Every test takes this for reading. The load tests take it for writing, so their thousands
/// of transactions never stretch another test's requests past the store timeout; so do the
/// sweep tests, because the sweep is global to the table and would release the lapsed holds
/// of the tests that assert "before any release ran".
static TIMING: LazyLock<tokio::sync::RwLock<()>> = LazyLock::new(|| tokio::sync::RwLock::new(()));

const RESERVATION_FIELDS: [&str; 8] = [
    "reservationId",
    "userId",
    "concertId",
    "date",
    "seatNo",
    "price",
    "status",
    "expiresAt",
];

type Item = HashMap<String, AttributeValue>;

// ------------------------------------------------------------------ helpers

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn keys_of(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("an object: {value}"))
        .keys()
        .cloned()
        .collect()
}

fn set_of(fields: &[&str]) -> BTreeSet<String> {
    fields.iter().map(|f| f.to_string()).collect()
}

/// An ACTIVE token of `user` for `concert` (a slot must be free).
async fn token_for_concert(app: &TestApp, user: &str, concert: &str) -> String {
    let (status, view) = answer(
        app.post_json(
            "/queue/tokens",
            None,
            &json!({"userId": user, "concertId": concert}),
        )
        .await,
    )
    .await;
    assert!(status.is_success(), "token issue failed: {status} {view}");
    assert_eq!(view["status"], "ACTIVE", "{view}");
    view["token"].as_str().unwrap().to_owned()
}

/// An ACTIVE token for the app's concert.
async fn active_token(app: &TestApp, user: &str) -> String {
    token_for_concert(app, user, &app.concert).await
}

/// ACTIVE tokens for many users, issued 200 at a time.
async fn active_tokens(app: &TestApp, users: &[String]) -> Vec<String> {
    let mut tokens = Vec::with_capacity(users.len());
    for chunk in users.chunks(200) {
        tokens.extend(join_all(chunk.iter().map(|u| active_token(app, u))).await);
    }
    tokens
}

/// Seeds a concert of its own with these dates, `seats` seats each at `price`.
async fn seed_concert(app: &TestApp, dates: &[ConcertDate], seats: u16, price: u64) -> String {
    let concert = unique("concert");
    app.state
        .db
        .seed_catalog(
            &ConcertId::parse(&concert).unwrap(),
            dates,
            seats,
            Won::new(price),
        )
        .await
        .expect("the catalog seeds");
    concert
}

fn days_from_today(days: i64) -> ConcertDate {
    ConcertDate::from_naive(ConcertDate::today_utc().naive() + chrono::Duration::days(days))
}

async fn dates_of(app: &TestApp, token: &str, concert: &str) -> Value {
    let (status, body) = answer(
        app.get(&format!("/concerts/{concert}/dates"), Some(token))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// The app concert's dates as (date, availableSeats).
async fn dates(app: &TestApp, token: &str) -> Vec<(String, u64)> {
    let body = dates_of(app, token, &app.concert).await;
    pairs(&body)
}

fn pairs(body: &Value) -> Vec<(String, u64)> {
    body["dates"]
        .as_array()
        .unwrap_or_else(|| panic!("dates is an array: {body}"))
        .iter()
        .map(|d| {
            (
                d["date"].as_str().expect("a date").to_owned(),
                d["availableSeats"].as_u64().expect("a count"),
            )
        })
        .collect()
}

async fn seat_map_of(app: &TestApp, token: &str, concert: &str, date: &str) -> Value {
    let (status, body) = answer(
        app.get(
            &format!("/concerts/{concert}/dates/{date}/seats"),
            Some(token),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// The app concert's seats of `date`, as the API lists them.
async fn seats(app: &TestApp, token: &str, date: &str) -> Vec<Value> {
    seat_map_of(app, token, &app.concert, date).await["seats"]
        .as_array()
        .expect("seats is an array")
        .clone()
}

fn status_of(seats: &[Value], seat_no: u64) -> String {
    let seat = seats
        .iter()
        .find(|s| s["seatNo"] == seat_no)
        .unwrap_or_else(|| panic!("seat {seat_no} is listed"));
    seat["status"].as_str().expect("a status").to_owned()
}

fn statuses(seats: &[Value]) -> Vec<String> {
    seats
        .iter()
        .map(|s| s["status"].as_str().expect("a status").to_owned())
        .collect()
}

async fn hold_as(
    app: &TestApp,
    token: &str,
    user: &str,
    concert: &str,
    date: &str,
    seat: u64,
) -> (StatusCode, Value) {
    answer(
        app.post_json(
            "/reservations",
            Some(token),
            &json!({"userId": user, "concertId": concert, "date": date, "seatNo": seat}),
        )
        .await,
    )
    .await
}

/// A hold on the app's concert that must succeed (201); its reservation view.
async fn hold_ok(app: &TestApp, token: &str, user: &str, date: &str, seat: u64) -> Value {
    let (status, body) = hold_as(app, token, user, &app.concert, date, seat).await;
    assert_eq!(status, StatusCode::CREATED, "hold of seat {seat}: {body}");
    body
}

async fn get_reservation(app: &TestApp, token: &str, id: &str) -> (StatusCode, Value) {
    answer(app.get(&format!("/reservations/{id}"), Some(token)).await).await
}

fn reservation_id(view: &Value) -> ReservationId {
    ReservationId::parse(view["reservationId"].as_str().expect("a reservationId"))
        .expect("a UUID reservationId")
}

async fn put_main(app: &TestApp, item: Item) {
    app.state
        .db
        .client
        .put_item()
        .table_name(&app.state.db.table)
        .set_item(Some(item))
        .send()
        .await
        .expect("the item is written");
}

async fn put_reservation(app: &TestApp, item: Item) {
    app.state
        .db
        .client
        .put_item()
        .table_name(&app.state.db.reservations)
        .set_item(Some(item))
        .send()
        .await
        .expect("the reservation is written");
}

async fn delete_marker(app: &TestApp, hold: &HoldItem) {
    app.state
        .db
        .client
        .delete_item()
        .table_name(&app.state.db.table)
        .key("PK", AttributeValue::S(hold.pk.clone()))
        .key("SK", AttributeValue::S(hold.sk.clone()))
        .send()
        .await
        .expect("the marker is deleted");
}

/// A reservation of the app's concert in the shape a hold writes, whose time ran out
/// `ago_ms` ago. Without `heldShard` unless `in_sweep_index`: then no sweep (ours or another
/// test's) can release it behind the test's back.
fn lapsed_reservation(
    app: &TestApp,
    user: &str,
    date: &str,
    seat: u16,
    ago_ms: i64,
    in_sweep_index: bool,
) -> ReservationItem {
    let now = Utc::now();
    let mut r = ReservationItem::held(
        ReservationId::generate(),
        &UserId::parse(user).unwrap(),
        &ConcertId::parse(&app.concert).unwrap(),
        ConcertDate::parse(date).unwrap(),
        SeatNo::new(i64::from(seat)).unwrap(),
        Won::new(50_000),
        now - chrono::Duration::milliseconds(ago_ms),
        now - chrono::Duration::milliseconds(ago_ms + 300_000),
    );
    if !in_sweep_index {
        r.held_shard = None;
    }
    r
}

/// Its marker, with a `ttl` a day off so DynamoDB's TTL cannot delete it during the test.
fn marker_for(reservation: &ReservationItem) -> HoldItem {
    let mut m = HoldItem::held(reservation);
    m.ttl = Some(Utc::now().timestamp() + 86_400);
    m
}

/// Writes a hold whose time ran out 1 s ago, through the app's own hold write.
async fn write_lapsed_hold(
    app: &TestApp,
    user: &str,
    date: &str,
    seat: u16,
    in_sweep_index: bool,
) -> (ReservationItem, HoldItem) {
    let r = lapsed_reservation(app, user, date, seat, 1_000, in_sweep_index);
    let m = marker_for(&r);
    app.state
        .db
        .put_hold(&m, &r, now_ms())
        .await
        .expect("the hold is written");
    (r, m)
}

/// Writes what a payment leaves: the marker SOLD for good and the reservation CONFIRMED.
async fn write_paid_hold(app: &TestApp, user: &str, date: &str, seat: u16) -> ReservationItem {
    let mut r = lapsed_reservation(app, user, date, seat, 1_000, false);
    // Paid before its time ran out; the payment drops the marker's expiry and TTL.
    r.status = ReservationStatus::Confirmed;
    let mut m = HoldItem::held(&r);
    m.status = HoldStatus::Sold;
    m.expires_at = None;
    m.ttl = None;
    put_main(app, to_item(&m).unwrap()).await;
    put_reservation(app, to_item(&r).unwrap()).await;
    r
}

/// Waits until the wall clock is `margin_ms` past `at_ms`.
async fn sleep_past(at_ms: i64, margin_ms: i64) {
    let left = at_ms + margin_ms - now_ms();
    if left > 0 {
        tokio::time::sleep(Duration::from_millis(left as u64)).await;
    }
}

/// `expiresAt`, which must be RFC 3339 UTC in the contract's shape `2026-12-24T19:00:00Z`.
fn expires_at(view: &Value) -> DateTime<Utc> {
    let text = view["expiresAt"].as_str().expect("expiresAt is set");
    assert!(
        text.len() == 20 && text.ends_with('Z') && text.as_bytes()[10] == b'T',
        "expiresAt {text:?} is not YYYY-MM-DDTHH:MM:SSZ"
    );
    DateTime::parse_from_rfc3339(text)
        .expect("expiresAt is RFC 3339")
        .with_timezone(&Utc)
}

/// A stream record as Lambda hands it to `release_hold` for a TTL deletion: eventName REMOVE
/// by the DynamoDB service, the deleted marker as the old image in DynamoDB JSON.
fn ttl_removal(hold: &HoldItem, sequence_number: &str) -> Value {
    stream_record("REMOVE", hold, sequence_number)
}

fn stream_record(event_name: &str, hold: &HoldItem, sequence_number: &str) -> Value {
    let mut image = json!({
        "PK": {"S": hold.pk},
        "SK": {"S": hold.sk},
        "entity": {"S": "Hold"},
        "concertId": {"S": hold.concert_id.as_str()},
        "date": {"S": hold.date.to_string()},
        "seatNo": {"N": hold.seat_no.get().to_string()},
        "status": {"S": match hold.status { HoldStatus::Held => "HELD", HoldStatus::Sold => "SOLD" }},
        "reservationId": {"S": hold.reservation_id.to_string()},
        "userId": {"S": hold.user_id.as_str()},
    });
    if let Some(at) = hold.expires_at {
        image["expiresAt"] = json!({"N": at.to_string()});
    }
    if let Some(ttl) = hold.ttl {
        image["ttl"] = json!({"N": ttl.to_string()});
    }
    json!({
        "eventID": uuid::Uuid::new_v4().simple().to_string(),
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/concert-booking/stream/2026-01-01T00:00:00.000",
        "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
        "dynamodb": {
            "ApproximateCreationDateTime": Utc::now().timestamp() as f64,
            "Keys": {"PK": {"S": hold.pk}, "SK": {"S": hold.sk}},
            "OldImage": image,
            "SequenceNumber": sequence_number,
            "SizeBytes": 312,
            "StreamViewType": "OLD_IMAGE"
        }
    })
}

/// Calls the release function as the event source mapping would, with these records.
async fn deliver(app: &TestApp, records: Vec<Value>) -> DynamoDbEventResponse {
    let event: Event = serde_json::from_value(json!({ "Records": records }))
        .expect("the records parse as a Lambda DynamoDB event");
    release_hold::handler(&app.state, LambdaEvent::new(event, Context::default()))
        .await
        .expect("the batch is handled")
}

fn failed_items(response: &DynamoDbEventResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone().unwrap_or_default())
        .collect()
}

/// A fresh stream sequence number: decimal digits, as DynamoDB Streams writes them.
fn sequence_number() -> String {
    (uuid::Uuid::new_v4().as_u128() >> 32).to_string()
}

/// Writes `r` padded so that it sits just under DynamoDB's 400 KB item limit while HELD:
/// marking it EXPIRED (three bytes longer) is then refused by DynamoDB itself, which makes
/// its release fail deterministically.
async fn write_unexpirable(app: &TestApp, r: &ReservationItem) {
    let padded = |pad: usize, status: &str| {
        let mut item = to_item(r).unwrap();
        item.insert("status".into(), AttributeValue::S(status.into()));
        item.insert("pad".into(), AttributeValue::S("x".repeat(pad)));
        item
    };
    let fits = |pad: usize, status: &'static str| {
        let item = padded(pad, status);
        async move {
            app.state
                .db
                .client
                .put_item()
                .table_name(&app.state.db.reservations)
                .set_item(Some(item))
                .send()
                .await
                .is_ok()
        }
    };
    // The largest padding with which the EXPIRED item still fits.
    let (mut lo, mut hi) = (300_000usize, 420_000usize);
    assert!(fits(lo, "EXPIRED").await && !fits(hi, "EXPIRED").await);
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if fits(mid, "EXPIRED").await {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    // Three bytes more padding with HELD: the same size, so it fits; EXPIRED would not.
    assert!(fits(lo + 3, "HELD").await, "the HELD item fits");
}

// ------------------------------------------------------------------ dates

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dates_are_listed_ascending_with_50_available_seats_each() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let token = active_token(&app, &unique("u")).await;
    let res = app
        .get(&format!("/concerts/{}/dates", app.concert), Some(&token))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/json");
    let body: Value = res.json().await.unwrap();
    assert_eq!(keys_of(&body), set_of(&["concertId", "dates"]), "{body}");
    assert_eq!(body["concertId"], app.concert.as_str());
    for d in body["dates"].as_array().unwrap() {
        assert_eq!(keys_of(d), set_of(&["date", "availableSeats"]), "{d}");
    }
    let expected: Vec<(String, u64)> = app.dates.iter().map(|d| (d.clone(), 50)).collect();
    assert_eq!(pairs(&body), expected);
    assert!(app.dates[0] < app.dates[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_dates_from_today_on_are_listed_in_ascending_order() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let seeded: Vec<ConcertDate> = [5, -1, 0, 2, -30]
        .into_iter()
        .map(days_from_today)
        .collect();
    let concert = seed_concert(&app, &seeded, 2, 50_000).await;
    let token = token_for_concert(&app, &unique("u"), &concert).await;

    let body = dates_of(&app, &token, &concert).await;
    let today = ConcertDate::today_utc();
    let mut expected: Vec<(String, u64)> = seeded
        .iter()
        .filter(|d| **d >= today)
        .map(|d| (d.to_string(), 2))
        .collect();
    expected.sort();
    assert_eq!(expected.len(), 3);
    assert_eq!(pairs(&body), expected, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_date_whose_seats_are_all_held_or_sold_disappears_from_the_dates() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[("QUEUE_ACTIVE_LIMIT", "200")]).await;
    let viewer = active_token(&app, &unique("viewer")).await;
    let date = app.dates[0].clone();

    // Seat 50 is sold (what a payment leaves); the dates call caches the count.
    write_paid_hold(&app, &unique("buyer"), &date, 50).await;
    assert_eq!(
        dates(&app, &viewer).await,
        vec![(date.clone(), 49), (app.dates[1].clone(), 50)]
    );

    // Seats 1 to 49 are held by 49 users.
    let users: Vec<String> = (1..=49).map(|i| format!("{}-{i}", unique("h"))).collect();
    let tokens = active_tokens(&app, &users).await;
    let holds = join_all(
        users
            .iter()
            .zip(&tokens)
            .zip(1u64..)
            .map(|((u, t), seat)| hold_ok(&app, t, u, &date, seat)),
    )
    .await;
    assert_eq!(holds.len(), 49);

    assert_eq!(dates(&app, &viewer).await, vec![(app.dates[1].clone(), 50)]);
    let map = seats(&app, &viewer, &date).await;
    assert_eq!(statuses(&map).iter().filter(|s| *s == "HELD").count(), 49);
    assert_eq!(status_of(&map, 50), "SOLD");
}

// ------------------------------------------------------------------ seat map

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seat_map_lists_seats_1_to_50_in_order_with_price_and_available() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let token = active_token(&app, &unique("u")).await;
    for date in &app.dates {
        let res = app
            .get(
                &format!("/concerts/{}/dates/{date}/seats", app.concert),
                Some(&token),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["content-type"], "application/json");
        let body: Value = res.json().await.unwrap();
        assert_eq!(
            keys_of(&body),
            set_of(&["concertId", "date", "seats"]),
            "{body}"
        );
        assert_eq!(body["concertId"], app.concert.as_str());
        assert_eq!(body["date"], date.as_str());
        let seats = body["seats"].as_array().unwrap();
        let numbers: Vec<u64> = seats
            .iter()
            .map(|s| s["seatNo"].as_u64().unwrap())
            .collect();
        assert_eq!(numbers, (1..=50).collect::<Vec<u64>>());
        for seat in seats {
            assert_eq!(
                keys_of(seat),
                set_of(&["seatNo", "price", "status"]),
                "{seat}"
            );
            assert_eq!(seat["price"], 50_000, "{seat}");
            assert_eq!(seat["status"], "AVAILABLE", "{seat}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_seat_shows_held_in_the_seat_map_and_every_other_seat_stays_available() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let token = active_token(&app, &user).await;
    hold_ok(&app, &token, &user, &app.dates[0], 7).await;

    let map = seats(&app, &token, &app.dates[0]).await;
    for seat in &map {
        let expected = if seat["seatNo"] == 7 {
            "HELD"
        } else {
            "AVAILABLE"
        };
        assert_eq!(seat["status"], expected, "{seat}");
    }
    // The other date is untouched.
    let other = seats(&app, &token, &app.dates[1]).await;
    assert!(statuses(&other).iter().all(|s| s == "AVAILABLE"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sold_seat_shows_sold_in_the_seat_map() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let token = active_token(&app, &unique("u")).await;
    write_paid_hold(&app, &unique("buyer"), &app.dates[0], 3).await;
    let map = seats(&app, &token, &app.dates[0]).await;
    assert_eq!(status_of(&map, 3), "SOLD");
    assert_eq!(
        statuses(&map).iter().filter(|s| *s == "AVAILABLE").count(),
        49
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_2_second_hold_ttl_an_expired_hold_shows_available_in_the_seat_map_before_any_release_ran(
) {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[("HOLD_TTL_SECONDS", "2")]).await;
    let user = unique("u");
    let token = active_token(&app, &user).await;
    let date = app.dates[0].clone();
    let view = hold_ok(&app, &token, &user, &date, 9).await;
    let id = reservation_id(&view);
    let expires = stored(&app, &id).await.expires_at;
    // Seen HELD at least once, unless this box was too slow to ask in time.
    let in_time = now_ms() + 1_000 < expires;

    // HELD while its time runs, AVAILABLE from expiresAt on: the server's clock is ours.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut held_seen = 0;
    loop {
        let asked = now_ms();
        let map = seats(&app, &token, &date).await;
        let answered = now_ms();
        match status_of(&map, 9).as_str() {
            "HELD" => {
                assert!(asked < expires, "HELD after expiresAt");
                held_seen += 1;
            }
            "AVAILABLE" => {
                assert!(answered >= expires, "AVAILABLE before expiresAt");
                break;
            }
            other => panic!("seat 9 is {other}"),
        }
        assert!(Instant::now() < deadline, "still HELD long after expiry");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(held_seen > 0 || !in_time, "the seat was never seen HELD");
    // No release ran: the reservation is still HELD as stored.
    assert_eq!(stored(&app, &id).await.status, ReservationStatus::Held);
}

// ------------------------------------------------------------------ dates and seats: errors

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seats_of_an_unknown_date_are_404_not_found() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let token = active_token(&app, &unique("u")).await;
    let unknown = days_from_today(3).to_string();
    for date in [unknown.as_str(), "2099-12-31", "2000-01-01"] {
        let res = app
            .get(
                &format!("/concerts/{}/dates/{date}/seats", app.concert),
                Some(&token),
            )
            .await;
        assert_problem(res, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_date_or_concert_id_in_the_path_is_400_naming_the_parameter() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let token = active_token(&app, &unique("u")).await;
    let concert = app.concert.clone();
    let date = app.dates[0].clone();
    let long = "x".repeat(65);
    let mut cases: Vec<(String, &str)> = Vec::new();
    for bad_date in [
        "2026-13-01",
        "2026-02-30",
        "tomorrow",
        "2026-1-01",
        "20261201",
        "%20",
    ] {
        cases.push((
            format!("/concerts/{concert}/dates/{bad_date}/seats"),
            "date",
        ));
    }
    for bad_concert in ["a%20b", "a%23b", long.as_str(), "%EC%82%AC", "a.b"] {
        cases.push((format!("/concerts/{bad_concert}/dates"), "concertId"));
        cases.push((
            format!("/concerts/{bad_concert}/dates/{date}/seats"),
            "concertId",
        ));
    }
    for (path, param) in cases {
        let res = app.get(&path, Some(&token)).await;
        let problem = assert_problem(res, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains(param), "{path}: {detail:?} names {param}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_for_another_concert_is_403_forbidden_on_dates_and_seats() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let other = seed_concert(&app, &[days_from_today(1)], 2, 50_000).await;
    let token = token_for_concert(&app, &unique("u"), &other).await;
    let date = &app.dates[0];
    for path in [
        format!("/concerts/{}/dates", app.concert),
        format!("/concerts/{}/dates/{date}/seats", app.concert),
    ] {
        let res = app.get(&path, Some(&token)).await;
        assert_problem(res, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    }
    // The same token serves its own concert.
    assert_eq!(pairs(&dates_of(&app, &token, &other).await).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_token_is_403_token_not_active_on_dates_seats_and_holds() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[("QUEUE_ACTIVE_LIMIT", "1")]).await;
    active_token(&app, &unique("first")).await;
    let user = unique("waiting");
    let (status, view) = answer(app.issue_token(&user).await).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(view["status"], "WAITING", "{view}");
    let token = view["token"].as_str().unwrap().to_owned();
    let date = app.dates[0].clone();

    for path in [
        format!("/concerts/{}/dates", app.concert),
        format!("/concerts/{}/dates/{date}/seats", app.concert),
    ] {
        let res = app.get(&path, Some(&token)).await;
        assert_problem(res, StatusCode::FORBIDDEN, "TOKEN_NOT_ACTIVE").await;
    }
    let res = app
        .post_json(
            "/reservations",
            Some(&token),
            &json!({"userId": user, "concertId": app.concert, "date": date, "seatNo": 1}),
        )
        .await;
    assert_problem(res, StatusCode::FORBIDDEN, "TOKEN_NOT_ACTIVE").await;
    assert_eq!(marker(&app, &app.concert, &date, 1).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_is_401_token_missing_on_dates_seats_holds_and_reservations() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let date = app.dates[0].clone();
    for path in [
        format!("/concerts/{}/dates", app.concert),
        format!("/concerts/{}/dates/{date}/seats", app.concert),
        format!("/reservations/{}", uuid::Uuid::new_v4()),
    ] {
        let res = app.get(&path, None).await;
        assert_problem(res, StatusCode::UNAUTHORIZED, "TOKEN_MISSING").await;
    }
    let res = app
        .post_json(
            "/reservations",
            None,
            &json!({"userId": unique("u"), "concertId": app.concert, "date": date, "seatNo": 1}),
        )
        .await;
    assert_problem(res, StatusCode::UNAUTHORIZED, "TOKEN_MISSING").await;
    assert_eq!(marker(&app, &app.concert, &date, 1).await, None);
}

// ------------------------------------------------------------------ holds

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_is_201_with_exactly_the_reservation_fields_status_held_and_expires_at_hold_ttl_ahead(
) {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let token = active_token(&app, &user).await;
    let date = app.dates[1].clone();
    let before = Utc::now();
    let res = app
        .post_json(
            "/reservations",
            Some(&token),
            &json!({"userId": user, "concertId": app.concert, "date": date, "seatNo": 12}),
        )
        .await;
    let after = Utc::now();
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.headers()["content-type"], "application/json");
    let view: Value = res.json().await.unwrap();

    assert_eq!(keys_of(&view), set_of(&RESERVATION_FIELDS), "{view}");
    reservation_id(&view);
    assert_eq!(view["userId"], user.as_str());
    assert_eq!(view["concertId"], app.concert.as_str());
    assert_eq!(view["date"], date.as_str());
    assert_eq!(view["seatNo"], 12);
    assert_eq!(view["price"], 50_000);
    assert_eq!(view["status"], "HELD");
    // The default HOLD_TTL_SECONDS is 300; expiresAt is shown to the second.
    let expires = expires_at(&view);
    assert!(
        expires >= before + chrono::Duration::seconds(299),
        "{expires} vs {before}"
    );
    assert!(
        expires <= after + chrono::Duration::seconds(301),
        "{expires} vs {after}"
    );
    // It is what is stored.
    let r = stored(&app, &reservation_id(&view)).await;
    assert_eq!(r.status, ReservationStatus::Held);
    assert_eq!(r.user_id.as_str(), user);
    assert_eq!(r.seat_no.get(), 12);
    assert_eq!(r.expires_at / 1000, expires.timestamp());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seat_held_by_someone_is_409_seat_unavailable_for_another_user_and_for_the_holder() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let (a, b) = (unique("a"), unique("b"));
    let (ta, tb) = (active_token(&app, &a).await, active_token(&app, &b).await);
    let date = app.dates[0].clone();
    let first = hold_ok(&app, &ta, &a, &date, 5).await;

    for (token, user) in [(&tb, &b), (&ta, &a)] {
        let res = app
            .post_json(
                "/reservations",
                Some(token),
                &json!({"userId": user, "concertId": app.concert, "date": date, "seatNo": 5}),
            )
            .await;
        assert_problem(res, StatusCode::CONFLICT, "SEAT_UNAVAILABLE").await;
    }
    // The first hold stands.
    let m = marker(&app, &app.concert, &date, 5)
        .await
        .expect("a marker");
    assert_eq!(
        text(&m, "reservationId"),
        first["reservationId"].as_str().unwrap()
    );
    // The same seat number on the other date is another seat.
    hold_ok(&app, &tb, &b, &app.dates[1], 5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sold_seat_is_409_seat_unavailable() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let token = active_token(&app, &user).await;
    let date = app.dates[0].clone();
    write_paid_hold(&app, &unique("buyer"), &date, 4).await;
    let (status, body) = hold_as(&app, &token, &user, &app.concert, &date, 4).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "SEAT_UNAVAILABLE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seat_51_or_an_unknown_date_is_404_not_found_and_seat_0_or_10000_is_400_naming_seat_no() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let token = active_token(&app, &user).await;
    let date = app.dates[0].clone();
    let unknown_date = days_from_today(9).to_string();

    for (d, seat) in [
        (date.as_str(), 51),
        (date.as_str(), 9_999),
        (unknown_date.as_str(), 1),
    ] {
        let res = app
            .post_json(
                "/reservations",
                Some(&token),
                &json!({"userId": user, "concertId": app.concert, "date": d, "seatNo": seat}),
            )
            .await;
        assert_problem(res, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    }
    for seat in [0, 10_000, -1] {
        let res = app
            .post_json(
                "/reservations",
                Some(&token),
                &json!({"userId": user, "concertId": app.concert, "date": date, "seatNo": seat}),
            )
            .await;
        let problem = assert_problem(res, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains("seatNo"), "seat {seat}: {detail:?}");
    }
    for (d, seat) in [(&date, 51u16), (&unknown_date, 1)] {
        assert_eq!(marker(&app, &app.concert, d, seat).await, None);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_for_another_user_or_another_concert_than_the_tokens_is_403_forbidden_and_nothing_is_written(
) {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let token = active_token(&app, &user).await;
    let other_concert = seed_concert(&app, &[days_from_today(1)], 3, 50_000).await;
    let date = app.dates[0].clone();

    let (status, body) = hold_as(&app, &token, &unique("other"), &app.concert, &date, 2).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "FORBIDDEN");
    let other_date = days_from_today(1).to_string();
    let (status, body) = hold_as(&app, &token, &user, &other_concert, &other_date, 2).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "FORBIDDEN");

    assert_eq!(marker(&app, &app.concert, &date, 2).await, None);
    assert_eq!(marker(&app, &other_concert, &other_date, 2).await, None);
    assert_eq!(status_of(&seats(&app, &token, &date).await, 2), "AVAILABLE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_hold_body_is_400_naming_the_field_and_nothing_is_written() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let token = active_token(&app, &user).await;
    let concert = app.concert.clone();
    let date = app.dates[0].clone();
    let ok = json!({"userId": user, "concertId": concert, "date": date, "seatNo": 8});
    let with = |field: &str, value: Value| {
        let mut body = ok.clone();
        body[field] = value;
        body.to_string()
    };
    let without = |field: &str| {
        let mut body = ok.clone();
        body.as_object_mut().unwrap().remove(field);
        body.to_string()
    };
    let cases: Vec<(String, &str)> = vec![
        (String::new(), "body"),
        ("{".to_owned(), "body"),
        ("not json".to_owned(), "body"),
        ("[]".to_owned(), "body"),
        (format!("[{ok}]"), "body"),
        ("null".to_owned(), "body"),
        (format!("{ok} {{}}"), "body"),
        (
            format!(
                r#"{{"userId": "{user}",{} "concertId": "{concert}", "date": "{date}", "seatNo": 8}}"#,
                " ".repeat(17 * 1024)
            ),
            "body",
        ),
        (without("userId"), "userId"),
        (without("concertId"), "concertId"),
        (without("date"), "date"),
        (without("seatNo"), "seatNo"),
        (with("price", json!(1)), "price"),
        (with("status", json!("HELD")), "status"),
        (with("userId", json!(42)), "userId"),
        (with("userId", json!("a b")), "userId"),
        (with("userId", json!("")), "userId"),
        (with("userId", json!("x".repeat(65))), "userId"),
        (with("concertId", json!(null)), "concertId"),
        (with("concertId", json!("a#b")), "concertId"),
        (with("date", json!("2026-13-01")), "date"),
        (with("date", json!("2026-02-30")), "date"),
        (with("date", json!("tomorrow")), "date"),
        (with("date", json!("2026-1-1")), "date"),
        (with("date", json!(20261224)), "date"),
        (with("date", json!(null)), "date"),
        (with("seatNo", json!("8")), "seatNo"),
        (with("seatNo", json!(8.5)), "seatNo"),
        (with("seatNo", json!(null)), "seatNo"),
        (with("seatNo", json!(true)), "seatNo"),
        (with("seatNo", json!([8])), "seatNo"),
        (with("seatNo", json!(0)), "seatNo"),
        (with("seatNo", json!(10_000)), "seatNo"),
        (with("seatNo", json!(-8)), "seatNo"),
        (with("seatNo", json!(u64::MAX)), "seatNo"),
        (
            format!(
                r#"{{"user_id": "{user}", "concertId": "{concert}", "date": "{date}", "seatNo": 8}}"#
            ),
            "user_id",
        ),
    ];
    for (body, field) in cases {
        let shown: String = body.chars().take(100).collect();
        let res = app.post_raw("/reservations", Some(&token), body).await;
        let problem = assert_problem(res, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            detail.contains(field),
            "the detail {detail:?} names {field} (body {shown})"
        );
    }

    // Nothing written: every seat of both dates is free, and no reservation of this user.
    for d in &app.dates {
        let map = seats(&app, &token, d).await;
        assert!(statuses(&map).iter().all(|s| s == "AVAILABLE"), "{d}");
    }
    let found = app
        .state
        .db
        .client
        .scan()
        .table_name(&app.state.db.reservations)
        .filter_expression("userId = :u")
        .expression_attribute_values(":u", AttributeValue::S(user.clone()))
        .into_paginator()
        .items()
        .send()
        .collect::<Vec<_>>()
        .await;
    assert_eq!(found.len(), 0, "reservations of {user}: {found:?}");
    // The same body, well formed, is taken: the refusals were about the body alone.
    hold_ok(&app, &token, &user, &date, 8).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_2_second_hold_ttl_an_expired_hold_does_not_block_and_another_user_gets_201_before_any_release_ran(
) {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[("HOLD_TTL_SECONDS", "2")]).await;
    let (a, b) = (unique("a"), unique("b"));
    let (ta, tb) = (active_token(&app, &a).await, active_token(&app, &b).await);
    let date = app.dates[0].clone();
    let first = hold_ok(&app, &ta, &a, &date, 6).await;
    let first_id = reservation_id(&first);
    let expires = stored(&app, &first_id).await.expires_at;

    // While it runs, B is refused (if this box asked in time).
    let asked = now_ms();
    let (status, body) = hold_as(&app, &tb, &b, &app.concert, &date, 6).await;
    if status == StatusCode::CONFLICT {
        assert_eq!(body["code"], "SEAT_UNAVAILABLE");
    } else {
        assert!(
            asked >= expires,
            "B got {status} while A's hold ran: {body}"
        );
    }

    sleep_past(expires, 200).await;
    let second = if status == StatusCode::CREATED {
        body
    } else {
        hold_ok(&app, &tb, &b, &date, 6).await
    };
    assert_eq!(second["userId"], b.as_str());
    assert_ne!(second["reservationId"], first["reservationId"]);
    // The seat is B's now, and no release had run: A's reservation is still HELD as stored.
    let m = marker(&app, &app.concert, &date, 6)
        .await
        .expect("B's marker");
    assert_eq!(
        text(&m, "reservationId"),
        second["reservationId"].as_str().unwrap()
    );
    assert_eq!(
        stored(&app, &first_id).await.status,
        ReservationStatus::Held
    );
    assert_eq!(status_of(&seats(&app, &tb, &date).await, 6), "HELD");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_holds_price_is_the_seat_maps_price_of_that_seat() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let date = days_from_today(4);
    let concert = seed_concert(&app, &[date], 50, 70_000).await;
    // Seat 3 costs more than the rest.
    let seat3 = SeatItem::new(
        &ConcertId::parse(&concert).unwrap(),
        date,
        SeatNo::new(3).unwrap(),
        Won::new(123_000),
    );
    put_main(&app, to_item(&seat3).unwrap()).await;
    let user = unique("u");
    let token = token_for_concert(&app, &user, &concert).await;
    let date = date.to_string();

    let map = seat_map_of(&app, &token, &concert, &date).await;
    let price_of = |n: u64| {
        map["seats"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["seatNo"] == n)
            .unwrap()["price"]
            .clone()
    };
    assert_eq!(price_of(3), 123_000);
    assert_eq!(price_of(4), 70_000);
    for seat in [3, 4] {
        let (status, view) = hold_as(&app, &token, &user, &concert, &date, seat).await;
        assert_eq!(status, StatusCode::CREATED, "{view}");
        assert_eq!(view["price"], price_of(seat), "{view}");
        assert_eq!(
            stored(&app, &reservation_id(&view)).await.price.get(),
            price_of(seat).as_u64().unwrap()
        );
    }
}

// ------------------------------------------------------------------ reading a reservation

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_reads_the_reservation_held_exactly_as_the_hold_answered() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let token = active_token(&app, &user).await;
    let held = hold_ok(&app, &token, &user, &app.dates[0], 21).await;
    let res = app
        .get(
            &format!("/reservations/{}", held["reservationId"].as_str().unwrap()),
            Some(&token),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/json");
    let view: Value = res.json().await.unwrap();
    assert_eq!(keys_of(&view), set_of(&RESERVATION_FIELDS), "{view}");
    assert_eq!(view["status"], "HELD");
    assert_eq!(view, held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_users_token_reading_a_reservation_is_403_forbidden() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let (a, b) = (unique("a"), unique("b"));
    let (ta, tb) = (active_token(&app, &a).await, active_token(&app, &b).await);
    let held = hold_ok(&app, &ta, &a, &app.dates[0], 22).await;
    let id = held["reservationId"].as_str().unwrap();
    let res = app.get(&format!("/reservations/{id}"), Some(&tb)).await;
    assert_problem(res, StatusCode::FORBIDDEN, "FORBIDDEN").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_reservation_id_is_404_not_found_and_a_malformed_one_is_400_naming_reservation_id(
) {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let token = active_token(&app, &unique("u")).await;
    let res = app
        .get(
            &format!("/reservations/{}", uuid::Uuid::new_v4()),
            Some(&token),
        )
        .await;
    assert_problem(res, StatusCode::NOT_FOUND, "NOT_FOUND").await;

    let simple = uuid::Uuid::new_v4().simple().to_string();
    let braced = format!("%7B{}%7D", uuid::Uuid::new_v4());
    for bad in ["not-a-uuid", "1", simple.as_str(), braced.as_str(), "%20"] {
        let res = app.get(&format!("/reservations/{bad}"), Some(&token)).await;
        let problem = assert_problem(res, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains("reservationId"), "{bad}: {detail:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_2_second_hold_ttl_the_reservation_reads_expired_after_its_time_before_any_release_ran(
) {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[("HOLD_TTL_SECONDS", "2")]).await;
    let user = unique("u");
    let token = active_token(&app, &user).await;
    let held = hold_ok(&app, &token, &user, &app.dates[0], 23).await;
    let id = held["reservationId"].as_str().unwrap().to_owned();
    let expires = stored(&app, &reservation_id(&held)).await.expires_at;

    let deadline = Instant::now() + Duration::from_secs(30);
    let view = loop {
        let asked = now_ms();
        let (status, view) = get_reservation(&app, &token, &id).await;
        let answered = now_ms();
        assert_eq!(status, StatusCode::OK, "{view}");
        match view["status"].as_str().unwrap() {
            "HELD" => assert!(asked < expires, "HELD after expiresAt: {view}"),
            "EXPIRED" => {
                assert!(answered >= expires, "EXPIRED before expiresAt: {view}");
                break view;
            }
            other => panic!("status {other}"),
        }
        assert!(Instant::now() < deadline, "still HELD long after expiry");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Everything else reads as it did.
    for field in RESERVATION_FIELDS.iter().filter(|f| **f != "status") {
        assert_eq!(view[field], held[field], "{field}");
    }
    assert_eq!(
        stored(&app, &reservation_id(&held)).await.status,
        ReservationStatus::Held,
        "no release ran"
    );
}

// ------------------------------------------------------------------ the dates cache

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_makes_the_very_next_dates_call_show_one_seat_fewer() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let token = active_token(&app, &user).await;
    let concert = ConcertId::parse(&app.concert).unwrap();
    let fifty: Vec<(String, u64)> = app.dates.iter().map(|d| (d.clone(), 50)).collect();
    assert_eq!(dates(&app, &token).await, fifty);
    // The answer is cached now.
    let cached = DatesCache::new(&app.state.redis)
        .get(&concert)
        .await
        .unwrap();
    assert!(cached.body.is_some(), "the dates call filled the cache");
    assert_eq!(dates(&app, &token).await, fifty);

    hold_ok(&app, &token, &user, &app.dates[1], 1).await;
    assert_eq!(
        dates(&app, &token).await,
        vec![(app.dates[0].clone(), 50), (app.dates[1].clone(), 49)]
    );
    hold_ok(&app, &token, &user, &app.dates[1], 2).await;
    assert_eq!(
        dates(&app, &token).await,
        vec![(app.dates[0].clone(), 50), (app.dates[1].clone(), 48)]
    );
}

// ------------------------------------------------------------------ races

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_concurrent_holds_on_one_seat_from_500_active_users_give_exactly_one_201_and_499_409(
) {
    let _exclusive = TIMING.write().await;
    let app = spawn_app_with(&[
        ("QUEUE_ACTIVE_LIMIT", "1000"),
        ("STORE_TIMEOUT_MS", "60000"),
    ])
    .await;
    let users: Vec<String> = (0..500).map(|i| format!("{}-{i}", unique("r"))).collect();
    let tokens = active_tokens(&app, &users).await;
    let date = app.dates[0].clone();
    // The price cache is warm, as it is after the first hold of a date on a live instance.
    seats(&app, &tokens[0], &date).await;

    let answers: Vec<(StatusCode, Value)> = join_all(
        users
            .iter()
            .zip(&tokens)
            .map(|(u, t)| hold_as(&app, t, u, &app.concert, &date, 17)),
    )
    .await;
    let winners: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .map(|(_, v)| v)
        .collect();
    let refused = answers
        .iter()
        .filter(|(s, v)| *s == StatusCode::CONFLICT && v["code"] == "SEAT_UNAVAILABLE")
        .count();
    let others: Vec<&(StatusCode, Value)> = answers
        .iter()
        .filter(|(s, _)| *s != StatusCode::CREATED && *s != StatusCode::CONFLICT)
        .collect();
    assert!(others.is_empty(), "unexpected answers: {others:?}");
    assert_eq!((winners.len(), refused), (1, 499));

    let m = marker(&app, &app.concert, &date, 17)
        .await
        .expect("a marker");
    assert_eq!(
        text(&m, "reservationId"),
        winners[0]["reservationId"].as_str().unwrap()
    );
    assert_eq!(text(&m, "userId"), winners[0]["userId"].as_str().unwrap());
    assert_eq!(status_of(&seats(&app, &tokens[0], &date).await, 17), "HELD");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_thousand_concurrent_holds_over_the_50_seats_of_a_date_give_exactly_50_winners_each_seat_won_once_and_all_50_held(
) {
    let _exclusive = TIMING.write().await;
    let app = spawn_app_with(&[
        ("QUEUE_ACTIVE_LIMIT", "5000"),
        ("STORE_TIMEOUT_MS", "60000"),
    ])
    .await;
    let users: Vec<String> = (0..2_000).map(|i| format!("{}-{i}", unique("s"))).collect();
    let tokens = active_tokens(&app, &users).await;
    let date = app.dates[0].clone();
    seats(&app, &tokens[0], &date).await;

    let answers: Vec<(StatusCode, Value)> = join_all(
        users
            .iter()
            .zip(&tokens)
            .enumerate()
            .map(|(i, (u, t))| hold_as(&app, t, u, &app.concert, &date, i as u64 % 50 + 1)),
    )
    .await;
    let mut won: HashMap<u64, Vec<String>> = HashMap::new();
    let mut refused = 0;
    for (i, (status, view)) in answers.iter().enumerate() {
        match *status {
            StatusCode::CREATED => {
                assert_eq!(view["seatNo"], i as u64 % 50 + 1, "{view}");
                assert_eq!(view["userId"], users[i].as_str(), "{view}");
                won.entry(view["seatNo"].as_u64().unwrap())
                    .or_default()
                    .push(view["reservationId"].as_str().unwrap().to_owned());
            }
            StatusCode::CONFLICT => {
                assert_eq!(view["code"], "SEAT_UNAVAILABLE", "{view}");
                refused += 1;
            }
            other => panic!("unexpected answer {other}: {view}"),
        }
    }
    assert_eq!(won.len(), 50, "every seat has a winner");
    assert!(
        won.values().all(|w| w.len() == 1),
        "a seat won twice: {won:?}"
    );
    assert_eq!(refused, 1_950);

    let map = seats(&app, &tokens[0], &date).await;
    assert_eq!(statuses(&map), vec!["HELD".to_owned(); 50]);
    // Each seat's marker is its winner's.
    for (seat, ids) in &won {
        let m = marker(&app, &app.concert, &date, *seat as u16)
            .await
            .expect("a marker");
        assert_eq!(text(&m, "reservationId"), ids[0], "seat {seat}");
    }
    // The other date is untouched.
    let other = seats(&app, &tokens[0], &app.dates[1]).await;
    assert!(statuses(&other).iter().all(|s| s == "AVAILABLE"));
}

// ------------------------------------------------------------------ the sweep

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_1_second_hold_ttl_the_sweep_expires_the_reservation_frees_the_seat_and_deletes_the_marker(
) {
    let _exclusive = TIMING.write().await;
    let app = spawn_app_with(&[("HOLD_TTL_SECONDS", "1")]).await;
    let user = unique("u");
    let token = active_token(&app, &user).await;
    let date = app.dates[0].clone();
    let held = hold_ok(&app, &token, &user, &date, 31).await;
    let id = reservation_id(&held);
    let expires = stored(&app, &id).await.expires_at;
    sleep_past(expires, 300).await;

    sweep(&app.state).await.expect("the sweep runs");

    // Whoever did it (this sweep, or DynamoDB's TTL for the marker), the end state is released.
    assert_eq!(stored(&app, &id).await.status, ReservationStatus::Expired);
    assert_eq!(stored(&app, &id).await.held_shard, None);
    assert_eq!(
        status_of(&seats(&app, &token, &date).await, 31),
        "AVAILABLE"
    );
    assert_eq!(marker(&app, &app.concert, &date, 31).await, None);
    let (status, view) = get_reservation(&app, &token, &id.to_string()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(view["status"], "EXPIRED");
    // And the seat can be held again.
    hold_ok(&app, &token, &user, &date, 31).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_releases_an_expired_hold_ttl_has_not_deleted_and_releasing_it_again_does_nothing(
) {
    let _exclusive = TIMING.write().await;
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let token = active_token(&app, &user).await;
    let date = app.dates[0].clone();
    let (r, _) = write_lapsed_hold(&app, &user, &date, 32, true).await;
    assert!(marker(&app, &app.concert, &date, 32).await.is_some());

    sweep(&app.state).await.expect("the sweep runs");
    assert_eq!(
        stored(&app, &r.reservation_id).await.status,
        ReservationStatus::Expired
    );
    assert_eq!(marker(&app, &app.concert, &date, 32).await, None);
    assert_eq!(
        status_of(&seats(&app, &token, &date).await, 32),
        "AVAILABLE"
    );

    // A second sweep and a direct release of the same hold change nothing.
    let before = reservation_raw(&app, &r.reservation_id).await;
    sweep(&app.state).await.expect("the sweep runs");
    assert_eq!(
        release(&app.state, &HoldRef::from(&r)).await.unwrap(),
        Released::Nothing
    );
    assert_eq!(reservation_raw(&app, &r.reservation_id).await, before);
    assert_eq!(marker(&app, &app.concert, &date, 32).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_leaves_a_hold_whose_time_has_not_run_out() {
    let _exclusive = TIMING.write().await;
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let token = active_token(&app, &user).await;
    let date = app.dates[0].clone();
    let held = hold_ok(&app, &token, &user, &date, 33).await;
    sweep(&app.state).await.expect("the sweep runs");
    assert_eq!(
        stored(&app, &reservation_id(&held)).await.status,
        ReservationStatus::Held
    );
    assert!(marker(&app, &app.concert, &date, 33).await.is_some());
    assert_eq!(
        release(
            &app.state,
            &HoldRef::from(&stored(&app, &reservation_id(&held)).await)
        )
        .await
        .unwrap(),
        Released::Nothing
    );
    assert_eq!(status_of(&seats(&app, &token, &date).await, 33), "HELD");
}

// ------------------------------------------------------------------ release: no-ops

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn releasing_a_hold_that_was_paid_since_changes_nothing() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let date = app.dates[0].clone();
    let paid = write_paid_hold(&app, &user, &date, 34).await;
    let marker_before = marker(&app, &app.concert, &date, 34).await;
    let record_before = reservation_raw(&app, &paid.reservation_id).await;

    assert_eq!(
        release(&app.state, &HoldRef::from(&paid)).await.unwrap(),
        Released::Nothing
    );
    assert_eq!(
        stored(&app, &paid.reservation_id).await.status,
        ReservationStatus::Confirmed
    );
    assert_eq!(
        reservation_raw(&app, &paid.reservation_id).await,
        record_before
    );
    let m = marker(&app, &app.concert, &date, 34).await;
    assert_eq!(m, marker_before);
    assert_eq!(text(&m.unwrap(), "status"), "SOLD");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn releasing_an_old_hold_whose_seat_was_held_again_expires_only_the_old_reservation_and_keeps_the_new_marker(
) {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let (a, b) = (unique("a"), unique("b"));
    let tb = active_token(&app, &b).await;
    let date = app.dates[0].clone();
    let (old, _) = write_lapsed_hold(&app, &a, &date, 35, false).await;
    // The lapsed hold does not block: B holds the seat over it, before any release.
    let newer = hold_ok(&app, &tb, &b, &date, 35).await;
    let newer_marker = marker(&app, &app.concert, &date, 35)
        .await
        .expect("B's marker");
    assert_eq!(
        text(&newer_marker, "reservationId"),
        newer["reservationId"].as_str().unwrap()
    );

    assert_eq!(
        release(&app.state, &HoldRef::from(&old)).await.unwrap(),
        Released::ExpiredOnly
    );
    assert_eq!(
        stored(&app, &old.reservation_id).await.status,
        ReservationStatus::Expired
    );
    assert_eq!(
        stored(&app, &reservation_id(&newer)).await.status,
        ReservationStatus::Held
    );
    assert_eq!(
        marker(&app, &app.concert, &date, 35).await,
        Some(newer_marker.clone())
    );
    assert_eq!(status_of(&seats(&app, &tb, &date).await, 35), "HELD");

    // Again: nothing more to do.
    assert_eq!(
        release(&app.state, &HoldRef::from(&old)).await.unwrap(),
        Released::Nothing
    );
    assert_eq!(
        marker(&app, &app.concert, &date, 35).await,
        Some(newer_marker)
    );
}

// ------------------------------------------------------------------ the stream function

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_release_function_expires_the_reservation_of_a_ttl_deleted_marker_and_frees_the_seat() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let token = active_token(&app, &user).await;
    let date = app.dates[0].clone();
    let (r, m) = write_lapsed_hold(&app, &user, &date, 36, false).await;
    // What TTL does: the marker is gone, the reservation still says HELD.
    delete_marker(&app, &m).await;
    assert_eq!(
        stored(&app, &r.reservation_id).await.status,
        ReservationStatus::Held
    );

    let seq = sequence_number();
    let response = deliver(&app, vec![ttl_removal(&m, &seq)]).await;
    assert_eq!(failed_items(&response), Vec::<String>::new());
    let after = stored(&app, &r.reservation_id).await;
    assert_eq!(after.status, ReservationStatus::Expired);
    assert_eq!(after.held_shard, None);
    assert_eq!(
        status_of(&seats(&app, &token, &date).await, 36),
        "AVAILABLE"
    );
    let (status, view) = get_reservation(&app, &token, &r.reservation_id.to_string()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(view["status"], "EXPIRED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_stream_record_delivered_twice_changes_nothing_the_second_time_and_reports_no_failure(
) {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let date = app.dates[0].clone();
    let (r, m) = write_lapsed_hold(&app, &user, &date, 37, false).await;
    delete_marker(&app, &m).await;
    let record = ttl_removal(&m, &sequence_number());

    let first = deliver(&app, vec![record.clone()]).await;
    assert_eq!(failed_items(&first), Vec::<String>::new());
    let after_first = reservation_raw(&app, &r.reservation_id).await;
    assert_eq!(text(after_first.as_ref().unwrap(), "status"), "EXPIRED");

    // The seat is taken again meanwhile: the duplicate must not undo that either.
    let tb_user = unique("b");
    let tb = active_token(&app, &tb_user).await;
    let newer = hold_ok(&app, &tb, &tb_user, &date, 37).await;
    let newer_marker = marker(&app, &app.concert, &date, 37).await;

    let second = deliver(&app, vec![record.clone(), record]).await;
    assert_eq!(failed_items(&second), Vec::<String>::new());
    assert_eq!(reservation_raw(&app, &r.reservation_id).await, after_first);
    assert_eq!(marker(&app, &app.concert, &date, 37).await, newer_marker);
    assert_eq!(
        stored(&app, &reservation_id(&newer)).await.status,
        ReservationStatus::Held
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_record_for_a_hold_that_was_paid_or_held_again_since_is_a_no_op_for_the_seat() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let date = app.dates[0].clone();

    // Paid: the record's old image is the HELD marker, the seat is SOLD now.
    let paid = write_paid_hold(&app, &unique("p"), &date, 38).await;
    let paid_marker = marker(&app, &app.concert, &date, 38).await;
    let paid_before = reservation_raw(&app, &paid.reservation_id).await;
    let paid_old_image = HoldItem::held(&paid);

    // Held again: A's lapsed marker was overwritten by B's hold.
    let a = unique("a");
    let (old, old_marker) = write_lapsed_hold(&app, &a, &date, 39, false).await;
    let b = unique("b");
    let tb = active_token(&app, &b).await;
    let newer = hold_ok(&app, &tb, &b, &date, 39).await;
    let newer_marker = marker(&app, &app.concert, &date, 39).await;

    let response = deliver(
        &app,
        vec![
            ttl_removal(&paid_old_image, &sequence_number()),
            ttl_removal(&old_marker, &sequence_number()),
        ],
    )
    .await;
    assert_eq!(failed_items(&response), Vec::<String>::new());

    // The sale stands, untouched.
    assert_eq!(
        reservation_raw(&app, &paid.reservation_id).await,
        paid_before
    );
    assert_eq!(marker(&app, &app.concert, &date, 38).await, paid_marker);
    // B's hold stands; only A's reservation ends, as EXPIRED.
    assert_eq!(marker(&app, &app.concert, &date, 39).await, newer_marker);
    assert_eq!(
        stored(&app, &reservation_id(&newer)).await.status,
        ReservationStatus::Held
    );
    assert_eq!(
        stored(&app, &old.reservation_id).await.status,
        ReservationStatus::Expired
    );
    let map = seats(&app, &tb, &date).await;
    assert_eq!(status_of(&map, 38), "SOLD");
    assert_eq!(status_of(&map, 39), "HELD");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_records_other_than_the_removal_of_a_held_marker_are_ignored() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let date = app.dates[0].clone();
    let (r, m) = write_lapsed_hold(&app, &user, &date, 40, false).await;
    let before = reservation_raw(&app, &r.reservation_id).await;
    let mut sold = m.clone();
    sold.status = HoldStatus::Sold;

    let response = deliver(
        &app,
        vec![
            stream_record("INSERT", &m, &sequence_number()),
            stream_record("MODIFY", &m, &sequence_number()),
            ttl_removal(&sold, &sequence_number()),
        ],
    )
    .await;
    assert_eq!(failed_items(&response), Vec::<String>::new());
    assert_eq!(reservation_raw(&app, &r.reservation_id).await, before);
    assert!(marker(&app, &app.concert, &date, 40).await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_reports_only_the_record_whose_release_failed_and_releases_the_others() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let date = app.dates[0].clone();
    let (good, good_marker) = write_lapsed_hold(&app, &unique("g"), &date, 41, false).await;
    delete_marker(&app, &good_marker).await;
    let (bad, bad_marker) = write_lapsed_hold(&app, &unique("b"), &date, 42, false).await;
    delete_marker(&app, &bad_marker).await;
    write_unexpirable(&app, &bad).await;
    let bad_before = reservation_raw(&app, &bad.reservation_id).await;

    let (good_seq, bad_seq) = (sequence_number(), sequence_number());
    let response = deliver(
        &app,
        vec![
            ttl_removal(&bad_marker, &bad_seq),
            ttl_removal(&good_marker, &good_seq),
        ],
    )
    .await;
    assert_eq!(failed_items(&response), vec![bad_seq]);
    assert_eq!(
        stored(&app, &good.reservation_id).await.status,
        ReservationStatus::Expired
    );
    assert_eq!(reservation_raw(&app, &bad.reservation_id).await, bad_before);

    app.state
        .db
        .client
        .delete_item()
        .table_name(&app.state.db.reservations)
        .key(
            "PK",
            AttributeValue::S(keys::reservation_pk(&bad.reservation_id)),
        )
        .key("SK", AttributeValue::S(keys::RESERVATION_SK.into()))
        .send()
        .await
        .expect("the padded reservation is removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_on_a_performance_that_is_over_is_404_not_found_and_nothing_is_written() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let yesterday = days_from_today(-1);
    let concert = seed_concert(&app, &[yesterday], 2, 50_000).await;
    let user = unique("u");
    let token = token_for_concert(&app, &user, &concert).await;
    let res = app
        .post_json(
            "/reservations",
            Some(&token),
            &json!({"userId": user, "concertId": concert, "date": yesterday.to_string(), "seatNo": 1}),
        )
        .await;
    assert_problem(res, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    let seats = app
        .get(
            &format!("/concerts/{concert}/dates/{yesterday}/seats"),
            Some(&token),
        )
        .await;
    let body: Value = seats.json().await.unwrap();
    assert_eq!(body["seats"][0]["status"], "AVAILABLE", "{body}");
}
