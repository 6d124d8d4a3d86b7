//! Bugs found by trying the product as a user would, each pinned by the test that failed
//! before its fix: one expiry boundary, a payment needs a token of its reservation's concert,
//! and a repeated Authorization or Queue-Token header is refused as API Gateway would.

mod common;

use chrono::{DateTime, Utc};
use common::{answer, assert_problem, spawn_app, unique, TestApp};
use reqwest::header::AUTHORIZATION;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use shared::domain::{ConcertDate, ConcertId, ReservationId, SeatNo, UserId, Won};
use shared::store::items::{HoldItem, ReservationItem, ReservationStatus};
use shared::store::seats::HoldOutcome;

/// A token of `concert` for `user`, expected ACTIVE.
async fn active_token(app: &TestApp, user: &str, concert: &str) -> String {
    let (status, view) = answer(
        app.post_json(
            "/queue/tokens",
            None,
            &json!({"userId": user, "concertId": concert}),
        )
        .await,
    )
    .await;
    assert!(status.is_success(), "{status}: {view}");
    assert_eq!(view["status"], "ACTIVE", "{view}");
    view["token"].as_str().unwrap().to_owned()
}

/// A reservation item of seat `seat` held until `expires_at`.
fn held(app: &TestApp, user: &str, seat: i64, expires_at: DateTime<Utc>) -> ReservationItem {
    ReservationItem::held(
        ReservationId::generate(),
        &UserId::parse(user).unwrap(),
        &ConcertId::parse(&app.concert).unwrap(),
        ConcertDate::parse(&app.dates[0]).unwrap(),
        SeatNo::new(seat).unwrap(),
        Won::new(50_000),
        expires_at,
        Utc::now(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seat_is_free_again_at_the_instant_its_hold_expires() {
    let app = spawn_app().await;
    let db = &app.state.db;
    let expires = Utc::now() + chrono::Duration::seconds(60);
    let at = expires.timestamp_millis();
    let first = held(&app, &unique("u"), 3, expires);
    let outcome = db
        .put_hold(&HoldItem::held(&first), &first, at - 120_000, None)
        .await
        .unwrap();
    assert_eq!(outcome, HoldOutcome::Held);

    // One millisecond before the end the hold still counts, for a new hold and for the
    // reservation alike; at the end itself it counts for neither.
    let second = held(
        &app,
        &unique("u"),
        3,
        expires + chrono::Duration::seconds(300),
    );
    let early = db
        .put_hold(&HoldItem::held(&second), &second, at - 1, None)
        .await
        .unwrap();
    assert_eq!(early, HoldOutcome::SeatTaken(second.seat_no));
    let domain = shared::domain::Reservation::from(&first);
    assert_eq!(
        domain
            .clone()
            .as_of(DateTime::from_timestamp_millis(at - 1).unwrap())
            .status,
        ReservationStatus::Held
    );
    assert_eq!(
        domain
            .as_of(DateTime::from_timestamp_millis(at).unwrap())
            .status,
        ReservationStatus::Expired
    );
    let on_time = db
        .put_hold(&HoldItem::held(&second), &second, at, None)
        .await
        .unwrap();
    assert_eq!(on_time, HoldOutcome::Held, "the seat is free at expiresAt");
    assert_eq!(
        app.stored(&second.reservation_id).await.status,
        ReservationStatus::Held
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_of_another_concert_cannot_pay_and_is_not_spent() {
    let app = spawn_app().await;
    let other = unique("concert");
    shared::flows::catalog::seed(
        &app.state.db,
        &ConcertId::parse(&other).unwrap(),
        &[ConcertDate::parse(&app.dates[0]).unwrap()],
        10,
        Won::new(50_000),
    )
    .await
    .unwrap();
    let user = unique("u");
    let here = active_token(&app, &user, &app.concert).await;
    let there = active_token(&app, &user, &other).await;
    let (status, body) = answer(
        app.post_json(
            &format!("/users/{user}/balance/charges"),
            Some(&there),
            &json!({"amount": 50_000}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = answer(
        app.post_json(
            "/reservations",
            Some(&there),
            &json!({"userId": user, "concertId": other, "date": app.dates[0], "seatNo": 4}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["reservationId"].as_str().unwrap().to_owned();
    let pay = |token: String| {
        let (app, user, id) = (&app, user.clone(), id.clone());
        async move {
            app.post_json(
                "/payments",
                Some(&token),
                &json!({"userId": user, "reservationId": id}),
            )
            .await
        }
    };

    assert_problem(pay(here.clone()).await, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    let rid = ReservationId::parse(&id).unwrap();
    assert_eq!(app.stored(&rid).await.status, ReservationStatus::Held);
    let (_, balance) = answer(
        app.get(&format!("/users/{user}/balance"), Some(&here))
            .await,
    )
    .await;
    assert_eq!(balance["balance"], 50_000, "nothing was debited");
    let (status, view) = answer(app.status(&here).await).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the refused token is not spent: {view}"
    );
    assert_eq!(view["status"], "ACTIVE");

    let (status, paid): (StatusCode, Value) = answer(pay(there).await).await;
    assert_eq!(status, StatusCode::CREATED, "{paid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_queue_token_header_is_401_token_invalid() {
    let app = spawn_app().await;
    let user = unique("u");
    let token = app.token_for(&user).await;
    let res = app
        .api
        .request(Method::GET, "/queue/status")
        .as_user(&user)
        .header("Queue-Token", &token)
        .header("Queue-Token", &token)
        .send()
        .await
        .unwrap();
    assert_problem(res, StatusCode::UNAUTHORIZED, "TOKEN_INVALID").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_authorization_header_is_the_gateways_401() {
    let app = spawn_app().await;
    let user = unique("u");
    let token = app.token_for(&user).await;
    let access = app.api.access_token(&user).await.unwrap().unwrap();
    let res = reqwest::Client::new()
        .get(app.url("/queue/status"))
        .header(AUTHORIZATION, format!("Bearer {access}"))
        .header(AUTHORIZATION, format!("Bearer {access}"))
        .header("Queue-Token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers().contains_key("www-authenticate"));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body, serde_json::json!({ "message": "Unauthorized" }));
}
