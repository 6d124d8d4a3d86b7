//! Flow 6 end to end through the stream: the local stack's TTL (`run_ttl`) deletes an expired
//! hold marker, the stream poller (`run_stream`) hands the REMOVE to `release_hold` as Lambda's
//! event source mapping would, and the release marks the reservation EXPIRED. No sweep runs.
//! A paid hold is never released that way.
//!
//! The table, and so its stream, is shared by every test, so the poller here starts at the
//! stream's end (LATEST; `make run`'s starts at TRIM_HORIZON) rather than work through every
//! earlier test's records first. The tests take turns, so one poller reads at a time.

mod common;

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use chrono::Utc;
use common::{answer, spawn_app_with, text, unique, TestApp};
use reqwest::StatusCode;
use serde_json::json;
use shared::domain::ReservationId;
use shared::store::items::{keys, ReservationStatus};
use tokio::task::JoinHandle;

/// One stream poller at a time.
static POLLER: LazyLock<tokio::sync::Mutex<()>> = LazyLock::new(|| tokio::sync::Mutex::new(()));

/// How long the stream may take to release an expired hold: the hold time, a TTL tick, and a
/// first pass over a busy stream.
const RELEASE_WITHIN: Duration = Duration::from_secs(120);

// ------------------------------------------------------------------ helpers

/// The local TTL and the stream poller, stopped when dropped.
struct Pollers(Vec<JoinHandle<()>>);

impl Pollers {
    async fn start(app: &TestApp) -> Self {
        Self::start_with(app, |config| config).await
    }

    /// Returns once the poller has its place at the stream's end: a hold made before that could
    /// lapse and be deleted where a LATEST iterator never looks (on a busy machine, it did).
    async fn start_with(
        app: &TestApp,
        customize: impl FnOnce(
                aws_sdk_dynamodbstreams::config::Builder,
            ) -> aws_sdk_dynamodbstreams::config::Builder
            + Send
            + 'static,
    ) -> Self {
        let log = devserver::events::TtlLog::default();
        let (ready, positioned) = tokio::sync::oneshot::channel();
        let pollers = Self(vec![
            tokio::spawn(devserver::events::run_ttl(app.state.clone(), log.clone())),
            tokio::spawn(devserver::events::run_stream_with(
                app.state.clone(),
                log,
                aws_sdk_dynamodbstreams::types::ShardIteratorType::Latest,
                Some(ready),
                customize,
            )),
        ]);
        positioned.await.expect("the stream poller finds its place");
        pollers
    }
}

/// Fails GetRecords calls number `from` to `to` (1-based), as a throttled or dropped read would.
#[derive(Debug)]
struct FailReads {
    seen: std::sync::atomic::AtomicU32,
    from: u32,
    to: u32,
}

impl aws_sdk_dynamodbstreams::config::Intercept for FailReads {
    fn name(&self) -> &'static str {
        "FailReads"
    }
    fn read_before_transmit(
        &self,
        context: &aws_sdk_dynamodbstreams::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _: &aws_sdk_dynamodbstreams::config::RuntimeComponents,
        _: &mut aws_sdk_dynamodbstreams::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodbstreams::error::BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("");
        if !target.ends_with(".GetRecords") {
            return Ok(());
        }
        let n = self.seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        if (self.from..=self.to).contains(&n) {
            return Err("a read failed on purpose".into());
        }
        Ok(())
    }
}

impl Drop for Pollers {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// A new user with an ACTIVE token: (user, token).
async fn active_user(app: &TestApp) -> (String, String) {
    let user = unique("u");
    let (status, view) = answer(app.issue_token(&user).await).await;
    assert!(status.is_success(), "{status}: {view}");
    assert_eq!(view["status"], "ACTIVE", "{view}");
    (user, view["token"].as_str().unwrap().to_owned())
}

async fn hold(app: &TestApp, token: &str, user: &str, date: &str, seat: u16) -> ReservationId {
    let (status, body) = answer(
        app.post_json(
            "/reservations",
            Some(token),
            &json!({"userId": user, "concertId": app.concert, "date": date, "seatNo": seat}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "hold of seat {seat}: {body}");
    ReservationId::parse(body["reservationId"].as_str().unwrap()).unwrap()
}

/// Waits until the stream released the hold: the stored reservation EXPIRED, its marker gone
/// and the seat AVAILABLE in the seat map. Returns how long it took.
async fn await_release(
    app: &TestApp,
    token: &str,
    id: &ReservationId,
    date: &str,
    seat: u16,
) -> Duration {
    let started = Instant::now();
    loop {
        let r = app.stored(id).await;
        let m = app.marker(&app.concert, date, seat).await;
        if r.status == ReservationStatus::Expired && m.is_none() {
            assert_eq!(app.seat_status(token, date, seat).await, "AVAILABLE");
            assert!(r.held_shard.is_none(), "a released hold leaves the index");
            return started.elapsed();
        }
        assert_ne!(r.status, ReservationStatus::Confirmed, "nobody paid {id}");
        assert!(
            started.elapsed() < RELEASE_WITHIN,
            "not released within {RELEASE_WITHIN:?}: {r:?}, marker {m:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

// ------------------------------------------------------------------ tests

/// With a 2 second hold TTL the stream releases an expired hold: the reservation expires, the
/// marker goes and the seat is available.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_releases_a_lapsed_hold_and_frees_the_seat() {
    let _turn = POLLER.lock().await;
    let app = spawn_app_with(&[("HOLD_TTL_SECONDS", "2")]).await;
    let _pollers = Pollers::start(&app).await;
    let date = app.dates[0].clone();
    let (user, token) = active_user(&app).await;

    let id = hold(&app, &token, &user, &date, 5).await;
    let r = app.stored(&id).await;
    assert_eq!(r.status, ReservationStatus::Held);
    assert!(r.expires_at > Utc::now().timestamp_millis());
    let m = app
        .marker(&app.concert, &date, 5)
        .await
        .expect("the hold's marker");
    assert_eq!(text(&m, "status"), "HELD");
    assert_eq!(text(&m, "reservationId"), id.to_string());
    assert_eq!(app.seat_status(&token, &date, 5).await, "HELD");

    let took = await_release(&app, &token, &id, &date, 5).await;
    eprintln!("the stream released the hold {took:?} after the hold answered");
    // The seat can be held again.
    let again = hold(&app, &token, &user, &date, 5).await;
    assert_ne!(again, id);
    assert_eq!(app.seat_status(&token, &date, 5).await, "HELD");
    assert_eq!(app.stored(&id).await.status, ReservationStatus::Expired);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_release_recovers_after_a_failed_read() {
    let _turn = POLLER.lock().await;
    let app = spawn_app_with(&[("HOLD_TTL_SECONDS", "2")]).await;
    // The first reads succeed (the poller has a position), then two fail in a row.
    let failing = FailReads {
        seen: Default::default(),
        from: 2,
        to: 3,
    };
    let _pollers = Pollers::start_with(&app, move |config| config.interceptor(failing)).await;
    let date = app.dates[0].clone();
    let (user, token) = active_user(&app).await;
    let id = hold(&app, &token, &user, &date, 9).await;

    let took = await_release(&app, &token, &id, &date, 9).await;
    eprintln!("released through the stream {took:?} after the hold, past two failed reads");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_2_second_hold_ttl_the_stream_never_releases_a_paid_hold() {
    let _turn = POLLER.lock().await;
    let app = spawn_app_with(&[("HOLD_TTL_SECONDS", "2")]).await;
    let _pollers = Pollers::start(&app).await;
    let date = app.dates[1].clone();
    let (user, token) = active_user(&app).await;

    let (status, body) = answer(
        app.post_json(
            &format!("/users/{user}/balance/charges"),
            Some(&token),
            &json!({ "amount": 50_000 }),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Seat 7 is paid; seat 8, held at the same time and left to expire, shows when the
    // stream has caught up.
    let paid = hold(&app, &token, &user, &date, 7).await;
    let witness = hold(&app, &token, &user, &date, 8).await;
    let (status, body) = answer(
        app.post_json(
            "/payments",
            Some(&token),
            &json!({"userId": user, "reservationId": paid.to_string()}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let expires_at = app.stored(&paid).await.expires_at;

    // The payment spent the token; a new one looks at the seat map.
    let (_, token) = active_user(&app).await;
    let took = await_release(&app, &token, &witness, &date, 8).await;
    eprintln!("the stream released the unpaid hold after {took:?}");
    // Well past the paid hold's time and a few TTL ticks more.
    let until = expires_at + 4_000;
    while Utc::now().timestamp_millis() < until {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    let r = app.stored(&paid).await;
    assert_eq!(r.status, ReservationStatus::Confirmed, "{r:?}");
    assert!(r.payment_id.is_some());
    let m = app
        .marker(&app.concert, &date, 7)
        .await
        .expect("the sold seat's marker");
    assert_eq!(text(&m, "status"), "SOLD");
    assert_eq!(text(&m, "reservationId"), paid.to_string());
    assert!(!m.contains_key("ttl"), "a sale has no TTL: {m:?}");
    assert_eq!(app.seat_status(&token, &date, 7).await, "SOLD");
    let payment = app
        .get_raw(
            &app.state.db.reservations,
            keys::reservation_pk(&paid),
            keys::PAYMENT_SK,
        )
        .await;
    assert!(payment.is_some(), "the payment stays");
}
