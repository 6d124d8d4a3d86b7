//! The invariant checker (`make check-invariants`) against data the flows wrote over HTTP:
//! charges, holds and payments of two users leave nothing to report; a balance written
//! behind the ledger's back, a sale that lost its marker and a hold that lost its seat are
//! reported, each for the user concerned and nothing else.
//!
//! The table is shared with every other test, so the checker is scoped to this test's users
//! (a prefix of their IDs) and its own concert.

mod common;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;
use common::{spawn_app_with, unique, TestApp};
use devserver::invariants::{self, Filter, Invariant, Report};
use reqwest::StatusCode;
use serde_json::{json, Value};
use shared::domain::{ReservationId, SeatNo, UserId, Won};
use shared::store::dynamo::to_item;
use shared::store::items::{keys, BalanceItem};

/// A new ACTIVE token for `user` (a payment spends the previous one).
async fn token(app: &TestApp, user: &str) -> String {
    let res = app.issue_token(user).await;
    assert!(res.status().is_success(), "token: {}", res.status());
    let view: Value = res.json().unwrap();
    assert_eq!(view["status"], "ACTIVE", "{view}");
    view["token"].as_str().unwrap().to_owned()
}

async fn charge(app: &TestApp, token: &str, user: &str, amount: u64) {
    let res = app
        .post_json(
            &format!("/users/{user}/balance/charges"),
            Some(token),
            &json!({ "amount": amount }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK, "charge");
}

async fn hold(app: &TestApp, token: &str, user: &str, date: &str, seat: u16) -> ReservationId {
    let res = app
        .post_json(
            "/reservations",
            Some(token),
            &json!({"userId": user, "concertId": app.concert, "date": date, "seatNo": seat}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED, "hold of seat {seat}");
    let body: Value = res.json().unwrap();
    ReservationId::parse(body["reservationId"].as_str().unwrap()).unwrap()
}

async fn pay(app: &TestApp, token: &str, user: &str, reservation: &ReservationId) {
    let res = app
        .post_json(
            "/payments",
            Some(token),
            &json!({"userId": user, "reservationId": reservation.to_string()}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED, "payment");
}

async fn check(app: &TestApp, filter: &Filter) -> Report {
    let report = invariants::check(&app.state.db, filter, Utc::now())
        .await
        .expect("the scans succeed");
    println!("{report}");
    report
}

/// Two users who charged, held and paid; one of them also holds a seat it has not paid.
struct World {
    app: TestApp,
    filter: Filter,
    alice: String,
    bob: String,
    /// Bob's paid seat.
    bob_seat: u16,
}

async fn world() -> World {
    let app = spawn_app_with(&[]).await;
    let tag = unique("inv");
    let (alice, bob) = (format!("{tag}-alice"), format!("{tag}-bob"));
    let date = app.dates[0].clone();

    let t = token(&app, &alice).await;
    charge(&app, &t, &alice, 120_000).await;
    let paid = hold(&app, &t, &alice, &date, 1).await;
    hold(&app, &t, &alice, &date, 3).await; // stays HELD
    pay(&app, &t, &alice, &paid).await;
    let t = token(&app, &alice).await;
    charge(&app, &t, &alice, 5_000).await;

    let t = token(&app, &bob).await;
    charge(&app, &t, &bob, 50_000).await;
    charge(&app, &t, &bob, 30_000).await;
    let paid = hold(&app, &t, &bob, &date, 2).await;
    pay(&app, &t, &bob, &paid).await;

    let filter = Filter {
        user_prefix: Some(format!("{tag}-")),
        concert_prefix: Some(app.concert.clone()),
    };
    World {
        app,
        filter,
        alice,
        bob,
        bob_seat: 2,
    }
}

#[tokio::test]
async fn the_flows_leave_no_violation_and_a_wrong_balance_is_reported() {
    let w = world().await;

    let report = check(&w.app, &w.filter).await;
    assert!(report.is_clean(), "{report}");
    let c = &report.counts;
    assert_eq!(c.sold_markers, 2, "{report}");
    assert_eq!(c.markers, 3, "two sold, one held: {report}");
    assert_eq!(
        (c.reservations, c.confirmed, c.live_holds),
        (3, 2, 1),
        "{report}"
    );
    assert_eq!(c.payments, 2, "{report}");
    assert_eq!(c.balances, 2, "{report}");
    assert_eq!(c.ledger_entries, 6, "4 charges and 2 payments: {report}");

    // A balance written without its ledger entry: Alice has 120,000 - 50,000 + 5,000 = 75,000.
    let alice = UserId::parse(&w.alice).unwrap();
    let wrong = BalanceItem::new(&alice, Won::new(75_001), Utc::now());
    w.app
        .state
        .db
        .client
        .put_item()
        .table_name(&w.app.state.db.table)
        .set_item(Some(to_item(&wrong).unwrap()))
        .send()
        .await
        .expect("the put succeeds");

    let report = check(&w.app, &w.filter).await;
    assert_eq!(report.violations.len(), 1, "{report}");
    let v = &report.violations[0];
    assert_eq!(v.invariant, Invariant::Balance, "{report}");
    assert_eq!(v.user.as_deref(), Some(w.alice.as_str()), "{report}");
    assert!(
        v.detail.contains("75001") && v.detail.contains("75000"),
        "{v}"
    );
    assert_ne!(v.user.as_deref(), Some(w.bob.as_str()));
}

#[tokio::test]
async fn a_sale_without_its_marker_and_a_hold_without_its_seat_are_reported() {
    let w = world().await;
    let db = &w.app.state.db;
    let date = shared::domain::ConcertDate::parse(&w.app.dates[0]).unwrap();
    let concert = shared::domain::ConcertId::parse(&w.app.concert).unwrap();
    let marker = |seat: u16| {
        (
            AttributeValue::S(keys::seats_pk(&concert, &date)),
            AttributeValue::S(keys::hold_sk(SeatNo::new(i64::from(seat)).unwrap())),
        )
    };

    // Bob's SOLD marker and Alice's live HELD one, gone.
    for seat in [w.bob_seat, 3] {
        let (pk, sk) = marker(seat);
        db.client
            .delete_item()
            .table_name(&db.table)
            .key("PK", pk)
            .key("SK", sk)
            .send()
            .await
            .expect("the delete succeeds");
    }

    let report = check(&w.app, &w.filter).await;
    assert_eq!(report.violations.len(), 2, "{report}");
    let sale = report
        .violations
        .iter()
        .find(|v| v.invariant == Invariant::Sale)
        .unwrap_or_else(|| panic!("a sale violation: {report}"));
    assert_eq!(sale.user.as_deref(), Some(w.bob.as_str()), "{report}");
    let hold = report
        .violations
        .iter()
        .find(|v| v.invariant == Invariant::Hold)
        .unwrap_or_else(|| panic!("a hold violation: {report}"));
    assert_eq!(hold.user.as_deref(), Some(w.alice.as_str()), "{report}");
}
