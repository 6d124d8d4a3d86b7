//! The invariant checker (`make check-invariants`) against data the flows wrote over HTTP:
//! charges, single and multi-seat holds, payments, a release by the holder, a refund and a
//! lapsed hold of two users leave nothing to report; a balance written behind the ledger's
//! back, a sale that lost a marker, a hold that lost its seat, a seat count that is off, a
//! refunded seat still sold, a seat in two live reservations and a seat let in at the door that
//! is not a standing sale are reported, each for the user concerned and nothing else. Then a concurrent storm of every write, checked whole.
//!
//! The table is shared with every other test, so the checker is scoped to this test's users
//! (a prefix of their IDs) and its own concert.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;
use common::{spawn_app_with, unique, TestApp};
use devserver::invariants::{self, Filter, Invariant, Report};
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};
use shared::domain::{
    Amount, ConcertDate, ConcertId, IdempotencyKey, Reservation, ReservationId, SeatNo, UserId, Won,
};
use shared::flows::balance::{self, ChargeRequest};
use shared::flows::holds::{self, HoldRequest, Released};
use shared::flows::payments::{self, PayRequest};
use shared::flows::refunds;
use shared::store::dynamo::to_item;
use shared::store::items::{
    keys, BalanceItem, HoldItem, HoldStatus, PaymentStatus, ReservationItem, ReservationStatus,
};
use shared::store::seats::HoldRef;
use shared::{ApiError, AppState};

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

async fn hold(app: &TestApp, token: &str, user: &str, date: &str, seats: &[u16]) -> ReservationId {
    let res = app
        .api
        .hold_seats(token, user, &app.concert, date, seats, None)
        .await
        .expect("the server answers");
    assert_eq!(res.status(), StatusCode::CREATED, "hold of seats {seats:?}");
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

/// Two users who charged, held, paid, released and refunded, on both dates of the app's
/// concert.
struct World {
    app: TestApp,
    filter: Filter,
    alice: String,
    bob: String,
    /// Bob's paid seat (first date).
    bob_seat: u16,
    /// Alice's paid two-seat reservation (first date, seats 4 and 5).
    alice_pair: ReservationId,
    /// Bob's refunded two-seat reservation (second date, seats 6 and 7).
    bob_refunded: ReservationId,
    /// Bob's hold of seat 9 (first date), whose time ran out and which no release has seen.
    bob_lapsed: ReservationItem,
}

async fn world() -> World {
    let app = spawn_app_with(&[("MAX_SEATS_PER_USER", "4")]).await;
    let tag = unique("inv");
    let (alice, bob) = (format!("{tag}-alice"), format!("{tag}-bob"));
    let (date, later) = (app.dates[0].clone(), app.dates[1].clone());

    // Alice: 300,000 in, a seat and a pair bought, a hold released, a hold kept: 4 seats, the
    // limit.
    let t = token(&app, &alice).await;
    charge(&app, &t, &alice, 300_000).await;
    let paid = hold(&app, &t, &alice, &date, &[1]).await;
    pay(&app, &t, &alice, &paid).await;
    let t = token(&app, &alice).await;
    let released = hold(&app, &t, &alice, &date, &[8]).await;
    let res = app
        .api
        .release(&t, &released.to_string())
        .await
        .expect("the server answers");
    assert_eq!(res.status(), StatusCode::OK, "release: {}", res.text());
    hold(&app, &t, &alice, &date, &[3]).await; // stays HELD
    let alice_pair = hold(&app, &t, &alice, &date, &[4, 5]).await;
    pay(&app, &t, &alice, &alice_pair).await;

    // Bob: a seat bought; a pair of the later date bought and refunded (at least a day
    // ahead, so within the refund window).
    let t = token(&app, &bob).await;
    charge(&app, &t, &bob, 50_000).await;
    charge(&app, &t, &bob, 30_000).await;
    let paid = hold(&app, &t, &bob, &date, &[2]).await;
    pay(&app, &t, &bob, &paid).await;
    let t = token(&app, &bob).await;
    charge(&app, &t, &bob, 100_000).await;
    let bob_refunded = hold(&app, &t, &bob, &later, &[6, 7]).await;
    pay(&app, &t, &bob, &bob_refunded).await;
    let t = token(&app, &bob).await;
    let res = app
        .api
        .refund(&t, &bob_refunded.to_string(), None)
        .await
        .expect("the server answers");
    assert_eq!(res.status(), StatusCode::OK, "refund: {}", res.text());

    // Bob's hold that lapsed a second ago, through the app's own hold write (so counted),
    // outside the sweep's index and with a marker TTL cannot delete: no release sees it.
    let now = Utc::now();
    let mut lapsed = ReservationItem::held(
        ReservationId::generate(),
        &UserId::parse(&bob).unwrap(),
        &ConcertId::parse(&app.concert).unwrap(),
        ConcertDate::parse(&date).unwrap(),
        SeatNo::new(9).unwrap(),
        Won::new(50_000),
        now - chrono::Duration::seconds(1),
        now - chrono::Duration::seconds(301),
    );
    lapsed.held_shard = None;
    let mut marker = HoldItem::held(&lapsed);
    marker.ttl = Some(now.timestamp() + 86_400);
    app.state
        .db
        .put_hold(&marker, &lapsed, now.timestamp_millis(), None)
        .await
        .expect("the lapsed hold is written");

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
        alice_pair,
        bob_refunded,
        bob_lapsed: lapsed,
    }
}

impl World {
    fn concert(&self) -> ConcertId {
        ConcertId::parse(&self.app.concert).unwrap()
    }

    fn date(&self, i: usize) -> ConcertDate {
        ConcertDate::parse(&self.app.dates[i]).unwrap()
    }

    async fn delete_marker(&self, date: usize, seat: u16) {
        let db = &self.app.state.db;
        db.client
            .delete_item()
            .table_name(&db.table)
            .key(
                "PK",
                AttributeValue::S(keys::seats_pk(&self.concert(), &self.date(date))),
            )
            .key(
                "SK",
                AttributeValue::S(keys::hold_sk(SeatNo::new(i64::from(seat)).unwrap())),
            )
            .send()
            .await
            .expect("the delete succeeds");
    }

    async fn put(&self, table: &str, item: HashMap<String, AttributeValue>) {
        self.app
            .state
            .db
            .client
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .send()
            .await
            .expect("the put succeeds");
    }

    async fn reservation(&self, id: &ReservationId) -> ReservationItem {
        self.app
            .state
            .db
            .get_reservation(id)
            .await
            .expect("the read succeeds")
            .expect("the reservation exists")
    }

    /// `update` (an UpdateExpression with `:v`) on `user`'s seat count of the concert.
    async fn update_count(&self, user: &str, update: &str, value: AttributeValue) {
        let db = &self.app.state.db;
        db.client
            .update_item()
            .table_name(&db.table)
            .key(
                "PK",
                AttributeValue::S(keys::user_pk(&UserId::parse(user).unwrap())),
            )
            .key(
                "SK",
                AttributeValue::S(keys::seat_count_sk(&self.concert())),
            )
            .update_expression(update)
            .expression_attribute_values(":v", value)
            .send()
            .await
            .expect("the update succeeds");
    }

    async fn seats_counted(&self, user: &str) -> i64 {
        self.app
            .state
            .db
            .seat_count(&UserId::parse(user).unwrap(), &self.concert())
            .await
            .expect("the read succeeds")
            .map_or(0, |c| c.seats)
    }
}

fn only(report: &Report, invariant: Invariant) -> Vec<&invariants::Violation> {
    report
        .violations
        .iter()
        .filter(|v| v.invariant == invariant)
        .collect()
}

#[tokio::test]
async fn the_flows_leave_no_violation_and_a_wrong_balance_is_reported() {
    let w = world().await;

    let report = check(&w.app, &w.filter).await;
    assert!(report.is_clean(), "{report}");
    let c = &report.counts;
    assert_eq!(
        (c.markers, c.sold_markers),
        (6, 4),
        "seats 1, 4, 5 and 2 sold, 3 and the lapsed 9 held: {report}"
    );
    assert_eq!(
        (c.reservations, c.confirmed, c.refunded, c.live_holds),
        (7, 3, 1, 1),
        "{report}"
    );
    assert_eq!(c.payments, 4, "{report}");
    assert_eq!(c.seat_counts, 2, "{report}");
    assert_eq!(c.balances, 2, "{report}");
    assert_eq!(
        c.ledger_entries, 9,
        "Alice 1 charge and 2 payments; Bob 3 charges, 2 payments and a refund: {report}"
    );

    // A balance written without its ledger entry: Alice has 300,000 - 50,000 - 100,000.
    let alice = UserId::parse(&w.alice).unwrap();
    let wrong = BalanceItem::new(&alice, Won::new(150_001), Utc::now());
    w.put(&w.app.state.db.table, to_item(&wrong).unwrap()).await;

    let report = check(&w.app, &w.filter).await;
    assert_eq!(report.violations.len(), 1, "{report}");
    let v = &report.violations[0];
    assert_eq!(v.invariant, Invariant::Balance, "{report}");
    assert_eq!(v.user.as_deref(), Some(w.alice.as_str()), "{report}");
    assert!(
        v.detail.contains("150001") && v.detail.contains("150000"),
        "{v}"
    );
    assert_ne!(v.user.as_deref(), Some(w.bob.as_str()));
}

#[tokio::test]
async fn a_sale_without_its_marker_and_a_hold_without_its_seat_are_reported() {
    let w = world().await;

    // Bob's SOLD marker and Alice's live HELD one, gone.
    w.delete_marker(0, w.bob_seat).await;
    w.delete_marker(0, 3).await;

    let report = check(&w.app, &w.filter).await;
    assert_eq!(report.violations.len(), 2, "{report}");
    let sale = only(&report, Invariant::Sale);
    assert_eq!(sale.len(), 1, "{report}");
    assert_eq!(sale[0].user.as_deref(), Some(w.bob.as_str()), "{report}");
    let hold = only(&report, Invariant::Hold);
    assert_eq!(hold.len(), 1, "{report}");
    assert_eq!(hold[0].user.as_deref(), Some(w.alice.as_str()), "{report}");
}

/// Every seat of a paid reservation is checked, not only its first.
#[tokio::test]
async fn a_paid_pair_that_lost_its_second_seat_is_reported() {
    let w = world().await;
    w.delete_marker(0, 5).await;

    let report = check(&w.app, &w.filter).await;
    assert_eq!(report.violations.len(), 1, "{report}");
    let v = &report.violations[0];
    assert_eq!(v.invariant, Invariant::Sale, "{report}");
    assert_eq!(v.user.as_deref(), Some(w.alice.as_str()), "{report}");
    assert!(
        v.detail.contains(&w.alice_pair.to_string()) && v.detail.contains("seat 5"),
        "{v}"
    );
}

#[tokio::test]
async fn a_seat_count_off_by_one_and_a_stray_counted_hold_are_reported() {
    let w = world().await;

    w.update_count(&w.alice, "ADD seats :v", AttributeValue::N("1".into()))
        .await;
    let report = check(&w.app, &w.filter).await;
    assert_eq!(report.violations.len(), 1, "{report}");
    let v = &report.violations[0];
    assert_eq!(v.invariant, Invariant::Count, "{report}");
    assert_eq!(v.user.as_deref(), Some(w.alice.as_str()), "{report}");
    assert!(
        v.detail.contains("counts 5 seats") && v.detail.ends_with(" 4"),
        "{v}"
    );

    // The count right again, but listing a hold that is not a HELD reservation.
    w.update_count(&w.alice, "ADD seats :v", AttributeValue::N("-1".into()))
        .await;
    w.update_count(
        &w.alice,
        "ADD holds :v",
        AttributeValue::Ss(vec!["0000000000001#stray".into()]),
    )
    .await;
    let report = check(&w.app, &w.filter).await;
    assert_eq!(report.violations.len(), 1, "{report}");
    let v = &report.violations[0];
    assert_eq!(v.invariant, Invariant::Count, "{report}");
    assert_eq!(v.user.as_deref(), Some(w.alice.as_str()), "{report}");
    assert!(v.detail.contains("stray"), "{v}");
}

/// An expired hold stays in the buyer's count until its release runs, and leaves it then.
#[tokio::test]
async fn a_lapsed_hold_counts_until_its_release_and_not_after() {
    let w = world().await;
    // Seat 2 bought and the lapsed seat 9; the refunded pair not.
    assert_eq!(w.seats_counted(&w.bob).await, 2);
    let report = check(&w.app, &w.filter).await;
    assert!(report.is_clean(), "{report}");

    let released = holds::release(&w.app.state, &HoldRef::from(&w.bob_lapsed))
        .await
        .expect("the release runs");
    assert_eq!(released, Released::Released);
    assert_eq!(w.seats_counted(&w.bob).await, 1);
    let report = check(&w.app, &w.filter).await;
    assert!(report.is_clean(), "{report}");

    // Had the count kept it after the release, that is reported.
    w.update_count(&w.bob, "ADD seats :v", AttributeValue::N("1".into()))
        .await;
    let report = check(&w.app, &w.filter).await;
    assert_eq!(report.violations.len(), 1, "{report}");
    assert_eq!(only(&report, Invariant::Count).len(), 1, "{report}");
}

#[tokio::test]
async fn a_refunded_seat_still_sold_and_a_refunded_payment_left_completed_are_reported() {
    let w = world().await;
    let db = &w.app.state.db;
    let r = w.reservation(&w.bob_refunded).await;
    assert_eq!(r.status, ReservationStatus::Refunded);

    // Seat 6's SOLD marker, back as if the refund had not deleted it.
    let mut m = HoldItem::held_seat(&r, SeatNo::new(6).unwrap());
    m.status = HoldStatus::Sold;
    m.expires_at = None;
    m.ttl = None;
    w.put(&db.table, to_item(&m).unwrap()).await;
    let report = check(&w.app, &w.filter).await;
    assert_eq!(report.violations.len(), 1, "{report}");
    let v = &report.violations[0];
    assert_eq!(v.invariant, Invariant::Refund, "{report}");
    assert_eq!(v.user.as_deref(), Some(w.bob.as_str()), "{report}");
    assert!(
        v.detail.contains("seat 6") && v.detail.contains("SOLD"),
        "{v}"
    );
    w.delete_marker(1, 6).await;

    // The payment COMPLETED again: both sides of the mismatch are reported.
    let mut p = db
        .payment(&w.bob_refunded)
        .await
        .unwrap()
        .expect("the payment");
    p.status = PaymentStatus::Completed;
    w.put(&db.reservations, to_item(&p).unwrap()).await;
    let report = check(&w.app, &w.filter).await;
    assert!(!report.is_clean(), "{report}");
    assert!(
        report
            .violations
            .iter()
            .all(|v| v.user.as_deref() == Some(w.bob.as_str())),
        "{report}"
    );
    let refund = only(&report, Invariant::Refund);
    assert_eq!(refund.len(), 1, "{report}");
    assert!(refund[0].detail.contains("COMPLETED"), "{report}");
    assert_eq!(only(&report, Invariant::Sale).len(), 1, "{report}");
    assert_eq!(report.violations.len(), 2, "{report}");
}

#[tokio::test]
async fn a_seat_in_two_live_reservations_is_reported() {
    let w = world().await;
    let carol = format!("{}carol", w.filter.user_prefix.as_deref().unwrap());
    // A live hold of Alice's held seat 3 for Carol, as only a broken lock could write it
    // (shaped as before the seat count existed, so no count concerns it).
    let now = Utc::now();
    let mut twin = ReservationItem::held(
        ReservationId::generate(),
        &UserId::parse(&carol).unwrap(),
        &w.concert(),
        w.date(0),
        SeatNo::new(3).unwrap(),
        Won::new(50_000),
        now + chrono::Duration::minutes(5),
        now,
    );
    twin.seat_nos.clear();
    twin.held_shard = None;
    w.put(&w.app.state.db.reservations, to_item(&twin).unwrap())
        .await;

    let report = check(&w.app, &w.filter).await;
    let hold = only(&report, Invariant::Hold);
    assert_eq!(report.violations.len(), 2, "{report}");
    assert_eq!(hold.len(), 2, "{report}");
    assert!(
        hold.iter()
            .any(|v| v.detail.contains("seat 3 is in 2 live reservations")),
        "{report}"
    );
    // Carol's hold has no marker of its own: the seat's is Alice's.
    assert!(
        hold.iter()
            .any(|v| v.user.as_deref() == Some(carol.as_str()) && v.detail.contains("a live HELD")),
        "{report}"
    );
}

/// A seat the door let in through the flow is a standing sale; a let-in mark on a seat that is
/// only held, or on a refunded reservation's seat, is reported as a check-in violation.
#[tokio::test]
async fn a_seat_let_in_that_is_not_a_standing_sale_is_reported() {
    let w = world().await;
    let db = &w.app.state.db;
    let pair = w.reservation(&w.alice_pair).await;
    let signer = shared::flows::tickets::keys(&w.app.state).unwrap();
    let ticket = shared::domain::tickets::Ticket {
        id: shared::domain::tickets::TicketId {
            reservation: pair.reservation_id,
            seat: SeatNo::new(4).unwrap(),
        },
        concert: w.concert(),
        date: w.date(0),
    };
    shared::flows::tickets::check_in(&w.app.state, &signer.sign(&ticket))
        .await
        .expect("the seat is let in");
    let report = check(&w.app, &w.filter).await;
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.counts.checked_in, 1);

    // Alice's held seat 3, marked let in behind the flows' back: not SOLD, and its
    // reservation not CONFIRMED.
    db.client
        .update_item()
        .table_name(&db.table)
        .key(
            "PK",
            AttributeValue::S(keys::seats_pk(&w.concert(), &w.date(0))),
        )
        .key(
            "SK",
            AttributeValue::S(keys::hold_sk(SeatNo::new(3).unwrap())),
        )
        .update_expression("SET checkedInAt = :at")
        .expression_attribute_values(":at", AttributeValue::S(Utc::now().to_rfc3339()))
        .send()
        .await
        .expect("the update succeeds");
    let report = check(&w.app, &w.filter).await;
    let let_in = only(&report, Invariant::CheckIn);
    assert_eq!(report.violations.len(), 2, "{report}");
    assert_eq!(let_in.len(), 2, "{report}");
    assert!(let_in
        .iter()
        .all(|v| v.user.as_deref() == Some(w.alice.as_str())));
    assert!(
        let_in.iter().any(|v| v.detail.contains("HELD, not SOLD")),
        "{report}"
    );
    assert!(
        let_in.iter().any(|v| v.detail.contains("which is HELD")),
        "{report}"
    );
}

/// A small deterministic generator: each buyer's script is the same every run (its outcomes
/// are not: they race).
struct Dice(u64);

impl Dice {
    fn roll(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

const STORM_BUYERS: u64 = 16;
const STORM_STEPS: usize = 8;
/// The seats every buyer draws from: few enough that holds collide, enough that some win.
const STORM_SEATS: u64 = 48;

fn code_of<T>(result: &Result<T, ApiError>) -> &'static str {
    match result {
        Ok(_) => "OK",
        Err(e) => e.parts().1,
    }
}

struct Storm {
    state: Arc<AppState>,
    concert: ConcertId,
    date: ConcertDate,
    /// Every reservation a hold made.
    made: Mutex<Vec<Reservation>>,
    /// Those the expirer has not released yet.
    pending: Mutex<Vec<Reservation>>,
}

impl Storm {
    /// What the stream and the sweep do: releases each pending hold whose time ran out, once
    /// (the release is a no-op for one paid, released or already expired meanwhile).
    async fn expire_lapsed(&self) {
        let now = Utc::now();
        let due: Vec<Reservation> = {
            let mut pending = self.pending.lock().unwrap();
            let (due, later) = pending.drain(..).partition(|r| r.expires_at <= now);
            *pending = later;
            due
        };
        for r in due {
            holds::release(&self.state, &HoldRef::from(&r))
                .await
                .expect("the release runs");
        }
    }

    /// One buyer: a charge, then holds of one to three seats (a third of them keyed and sent
    /// twice at once, as a client retrying a lost answer), each paid, paid and refunded (the
    /// refund asked twice at once), released by the holder, or left to lapse.
    async fn buyer(&self, user: UserId, seed: u64) -> Vec<(&'static str, &'static str)> {
        let mut out = Vec::new();
        let mut dice = Dice(seed);
        let charged = balance::charge(
            &self.state,
            &user,
            &ChargeRequest {
                amount: Amount::new(200_000).unwrap(),
            },
            None,
        )
        .await;
        out.push(("charge", code_of(&charged)));
        let token = common::stray_token(&self.state, self.concert.as_str());
        for step in 0..STORM_STEPS {
            let k = 1 + dice.roll(3) as usize;
            let mut seats: Vec<SeatNo> = Vec::new();
            while seats.len() < k {
                let seat = SeatNo::new(1 + dice.roll(STORM_SEATS) as i64).unwrap();
                if !seats.contains(&seat) {
                    seats.push(seat);
                }
            }
            seats.sort();
            let request = HoldRequest {
                user: user.clone(),
                concert: self.concert.clone(),
                date: self.date,
                seats,
            };
            let held = if dice.roll(3) == 0 {
                let key = IdempotencyKey::parse(&format!("storm-{step}")).unwrap();
                let (a, b) = tokio::join!(
                    holds::hold(&self.state, request.clone(), Some(&key)),
                    holds::hold(&self.state, request, Some(&key))
                );
                out.push(("keyed hold", code_of(&a)));
                out.push(("keyed hold", code_of(&b)));
                if let (Ok(a), Ok(b)) = (&a, &b) {
                    assert_eq!(a.reservation_id, b.reservation_id, "one key, one hold");
                }
                a.or(b)
            } else {
                let r = holds::hold(&self.state, request, None).await;
                out.push(("hold", code_of(&r)));
                r
            };
            let Ok(held) = held else { continue };
            self.made.lock().unwrap().push(held.clone());
            self.pending.lock().unwrap().push(held.clone());
            let id = held.reservation_id;
            let action = dice.roll(4);
            match action {
                0 | 1 => {
                    let payer = payments::Payer {
                        token: &token,
                        concert: &self.concert,
                    };
                    let request = PayRequest {
                        user_id: user.clone(),
                        reservation_id: id,
                    };
                    let paid = payments::pay(&self.state, payer, &request, None).await;
                    out.push(("pay", code_of(&paid)));
                    if paid.is_ok() && action == 1 {
                        let (a, b) = tokio::join!(
                            refunds::refund(&self.state, &user, &id, None),
                            refunds::refund(&self.state, &user, &id, None)
                        );
                        out.push(("refund", code_of(&a)));
                        out.push(("refund", code_of(&b)));
                        if let (Ok(a), Ok(b)) = (&a, &b) {
                            assert_eq!((a.amount, a.balance), (b.amount, b.balance));
                        }
                    }
                }
                2 => {
                    let released = holds::release_by_holder(&self.state, &user, &id).await;
                    out.push(("release", code_of(&released)));
                }
                _ => out.push(("lapse", "OK")),
            }
        }
        out
    }
}

/// After a storm of buyers holding one to three seats (keyed holds retried), paying, refunding,
/// releasing and letting holds lapse, with expiries released as they come due, the checker
/// finds nothing: before the last lapsed holds are released, and after.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_a_storm_of_every_write_the_checker_finds_nothing() {
    let app = spawn_app_with(&[("HOLD_TTL_SECONDS", "2"), ("MAX_SEATS_PER_USER", "4")]).await;
    let _burst = app.burst().await;
    let tag = unique("istorm");
    let storm = Arc::new(Storm {
        state: app.state.clone(),
        concert: ConcertId::parse(&app.concert).unwrap(),
        // The later date: at least a day ahead, within the refund window.
        date: ConcertDate::parse(&app.dates[1]).unwrap(),
        made: Mutex::new(Vec::new()),
        pending: Mutex::new(Vec::new()),
    });

    let done = Arc::new(AtomicBool::new(false));
    let expirer = {
        let (storm, done) = (storm.clone(), done.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                storm.expire_lapsed().await;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    let buyers = (0..STORM_BUYERS).map(|i| {
        let storm = storm.clone();
        let user = UserId::parse(&format!("{tag}-{i:02}")).unwrap();
        tokio::spawn(async move { storm.buyer(user, 0x9E37_79B9_7F4A_7C15 ^ (i + 1)).await })
    });
    let outcomes: Vec<_> = join_all(buyers)
        .await
        .into_iter()
        .flat_map(|r| r.expect("the buyer ran"))
        .collect();
    done.store(true, Ordering::Relaxed);
    expirer.await.expect("the expirer ran");

    let mut tally: HashMap<(&str, &str), usize> = HashMap::new();
    for o in &outcomes {
        *tally.entry(*o).or_default() += 1;
    }
    let mut sorted: Vec<_> = tally.iter().collect();
    sorted.sort();
    eprintln!("storm: {sorted:?}");
    for (what, code) in tally.keys() {
        let allowed: &[&str] = match *what {
            "charge" | "refund" | "lapse" => &["OK"],
            "hold" | "keyed hold" => &["OK", "SEAT_UNAVAILABLE", "SEAT_LIMIT_REACHED"],
            "pay" => &["OK", "RESERVATION_EXPIRED", "INSUFFICIENT_BALANCE"],
            _ => &["OK", "RESERVATION_EXPIRED"],
        };
        assert!(allowed.contains(code), "{what} answered {code}: {sorted:?}");
    }
    let made = storm.made.lock().unwrap().clone();
    assert!(!made.is_empty(), "some holds won: {sorted:?}");

    let filter = Filter {
        user_prefix: Some(format!("{tag}-")),
        concert_prefix: Some(app.concert.clone()),
    };
    // Holds whose time ran out but that no release has seen yet are still counted.
    let report = check(&app, &filter).await;
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.counts.reservations, made.len(), "{report}");

    // Every hold's time over, every lapsed one released: still whole, and nothing HELD.
    let last = made.iter().map(|r| r.expires_at).max().unwrap();
    let wait = (last - Utc::now()).num_milliseconds() + 100;
    if wait > 0 {
        tokio::time::sleep(Duration::from_millis(wait as u64)).await;
    }
    storm.expire_lapsed().await;
    let report = check(&app, &filter).await;
    assert!(report.is_clean(), "{report}");
    for r in &made {
        let stored = app
            .state
            .db
            .get_reservation(&r.reservation_id)
            .await
            .unwrap()
            .expect("the reservation");
        assert_ne!(stored.status, ReservationStatus::Held, "{stored:?}");
    }
}
