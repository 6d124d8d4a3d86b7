//! ACTIVE tokens that make no call: they end, and their place goes to the next in line; a
//! live hold of their user counts as a call until it ends.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_active_token_that_makes_no_call_ends_and_its_place_goes_to_the_next() {
    let _timing = TIMING.read().await;
    let app = spawn_app_with(&[
        ("QUEUE_ACTIVE_LIMIT", "1"),
        ("ACTIVE_TOKEN_IDLE_SECONDS", "2"),
    ])
    .await;
    let quiet = token_of(&app.issue_new(&unique("quiet")).await);
    let next = app.issue_new(&unique("next")).await;
    assert_waiting(&next, 1);

    let admitted = app
        .poll_until(
            &token_of(&next),
            Duration::from_millis(300),
            Duration::from_secs(20),
            |v| v["status"] == "ACTIVE",
        )
        .await;
    assert_active(&admitted);
    assert_problem(
        app.status(&quiet).await,
        StatusCode::UNAUTHORIZED,
        "TOKEN_EXPIRED",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_active_token_that_keeps_calling_keeps_its_place() {
    let _timing = TIMING.read().await;
    let app = spawn_app_with(&[
        ("QUEUE_ACTIVE_LIMIT", "1"),
        ("ACTIVE_TOKEN_IDLE_SECONDS", "2"),
    ])
    .await;
    let busy = token_of(&app.issue_new(&unique("busy")).await);
    let next = token_of(&app.issue_new(&unique("next")).await);
    // Well past twice the idle time, a call every 300 ms (a poll or a guarded call).
    let until = Instant::now() + Duration::from_secs(5);
    let mut i = 0;
    while Instant::now() < until {
        if i % 2 == 0 {
            assert_active(&app.poll(&busy).await);
        } else {
            let res = app.api.dates(&busy, &app.concert).await.unwrap();
            assert_eq!(res.status(), StatusCode::OK, "{}", res.text());
        }
        assert_waiting(&app.poll(&next).await, 1);
        tokio::time::sleep(Duration::from_millis(300)).await;
        i += 1;
    }
}

/// A buyer at the payment step is never thrown out: the hold keeps the token until it ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_hold_keeps_its_users_token_active_until_the_hold_ends() {
    let _timing = TIMING.read().await;
    let app = spawn_app_with(&[
        ("QUEUE_ACTIVE_LIMIT", "1"),
        ("ACTIVE_TOKEN_IDLE_SECONDS", "2"),
        ("HOLD_TTL_SECONDS", "5"),
    ])
    .await;
    let buyer = unique("buyer");
    let token = token_of(&app.issue_new(&buyer).await);
    let res = app
        .api
        .hold(&token, &buyer, &app.concert, &app.dates[0], 7)
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text());
    let held: Value = res.json().unwrap();
    let expires = DateTime::parse_from_rfc3339(held["expiresAt"].as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc);
    let next = token_of(&app.issue_new(&unique("next")).await);

    // The buyer makes no call; past the idle time, and until the hold ends, the place is kept.
    let quiet_until = expires - chrono::Duration::milliseconds(1_500);
    while Utc::now() < quiet_until {
        assert_waiting(&app.poll(&next).await, 1);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let admitted = app
        .poll_until(
            &next,
            Duration::from_millis(300),
            Duration::from_secs(20),
            |v| v["status"] == "ACTIVE",
        )
        .await;
    assert_active(&admitted);
    assert!(Utc::now() >= expires, "admitted before the hold ended");
    assert_problem(
        app.status(&token).await,
        StatusCode::UNAUTHORIZED,
        "TOKEN_EXPIRED",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_never_keeps_a_token_past_its_life() {
    let _timing = TIMING.read().await;
    let app = spawn_app_with(&[
        ("ACTIVE_TOKEN_TTL_SECONDS", "2"),
        ("HOLD_TTL_SECONDS", "60"),
    ])
    .await;
    let buyer = unique("buyer");
    let view = app.issue_new(&buyer).await;
    let token = token_of(&view);
    let res = app
        .api
        .hold(&token, &buyer, &app.concert, &app.dates[0], 8)
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text());
    let until = active_until(&view) + chrono::Duration::milliseconds(1_500);
    tokio::time::sleep((until - Utc::now()).to_std().unwrap_or_default()).await;
    assert_problem(
        app.status(&token).await,
        StatusCode::UNAUTHORIZED,
        "TOKEN_EXPIRED",
    )
    .await;
}

/// A hold its holder releases keeps the token no longer: the token's idle clock restarts at
/// the release, while another live hold of its user still keeps it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_released_hold_restarts_its_tokens_idle_clock_at_the_release() {
    let _timing = TIMING.read().await;
    let idle = Duration::from_secs(2);
    let app = spawn_app_with(&[
        ("ACTIVE_TOKEN_IDLE_SECONDS", "2"),
        ("HOLD_TTL_SECONDS", "60"),
    ])
    .await;
    let hold = |token: String, buyer: String, seat: u16| {
        let app = &app;
        async move {
            let res = app
                .api
                .hold(&token, &buyer, &app.concert, &app.dates[0], seat)
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text());
            let held: Value = res.json().unwrap();
            held["reservationId"].as_str().unwrap().to_owned()
        }
    };
    let release = |token: String, id: String| {
        let app = &app;
        async move {
            let res = app.api.release(&token, &id).await.unwrap();
            assert_eq!(res.status(), StatusCode::OK, "{}", res.text());
        }
    };

    // One hold, released: gone one idle time after the release, not at the hold's end.
    let buyer = unique("one");
    let token = token_of(&app.issue_new(&buyer).await);
    let only = hold(token.clone(), buyer, 11).await;
    release(token.clone(), only).await;
    let released = Instant::now();
    tokio::time::sleep((idle + Duration::from_millis(500)).saturating_sub(released.elapsed()))
        .await;
    assert_problem(
        app.status(&token).await,
        StatusCode::UNAUTHORIZED,
        "TOKEN_EXPIRED",
    )
    .await;

    // Two holds, one released: the other still keeps the token past the idle time.
    let buyer = unique("two");
    let token = token_of(&app.issue_new(&buyer).await);
    let kept = hold(token.clone(), buyer.clone(), 12).await;
    let dropped = hold(token.clone(), buyer, 13).await;
    release(token.clone(), dropped).await;
    tokio::time::sleep(idle + Duration::from_millis(500)).await;
    assert_active(&app.poll(&token).await);
    assert!(!kept.is_empty());
}
