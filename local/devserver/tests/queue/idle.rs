//! Waiting tokens that stop polling, and the wait estimate.

use super::*;

/// A waiting token not polled for the idle time drops out and the one behind moves up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_waiting_token_drops_out_and_the_one_behind_moves_up() {
    let _timing = TIMING.read().await;
    // 2 s rather than 1 s, so a slow moment on a loaded machine never idles out the poller.
    let app = spawn_app_with(&[
        ("QUEUE_ACTIVE_LIMIT", "1"),
        ("WAITING_TOKEN_IDLE_SECONDS", "2"),
        ("QUEUE_POLL_MAX_SECONDS", "1"),
    ])
    .await;
    assert_active(&app.issue_new(&unique("a")).await);
    let started = Instant::now();
    let idle = token_of(&app.issue_new(&unique("idle")).await);
    let keen = app.issue_new(&unique("keen")).await;
    assert_waiting(&keen, 2);

    let moved = app
        .poll_until(
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
        ("QUEUE_POLL_MAX_SECONDS", "1"),
    ])
    .await;
    assert_active(&app.issue_new(&unique("a")).await);
    let first = token_of(&app.issue_new(&unique("b")).await);
    let second = token_of(&app.issue_new(&unique("c")).await);

    // Well past twice the idle time, polling every 300 ms.
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        assert_waiting(&app.poll(&first).await, 1);
        assert_waiting(&app.poll(&second).await, 2);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// A waiting token gets a wait estimate of at least a second once tokens were admitted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_token_gets_a_wait_estimate_of_at_least_a_second() {
    let app = spawn_app_with(&[("QUEUE_ACTIVE_LIMIT", "1")]).await;
    // Admitted at once: the last minute has an admission.
    assert_active(&app.issue_new(&unique("a")).await);
    let issued = app.issue_new(&unique("b")).await;
    let polled = app.poll(&token_of(&issued)).await;
    for view in [issued, polled] {
        assert_waiting(&view, 1);
        let wait = view["estimatedWaitSeconds"].as_u64();
        assert!(wait.is_some_and(|s| s >= 1), "{view}");
    }
}

/// A waiter drops out when it misses its own last hint by WAITING_TOKEN_IDLE_SECONDS, however
/// much longer than that idle time the hint is: it stays when it calls just before hint + idle,
/// and is gone just after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_told_a_hint_longer_than_the_idle_time_drops_out_only_after_hint_plus_idle() {
    let _timing = TIMING.read().await;
    // One admitted in the last minute: place 1 expects 60 s and is told a tenth, capped at 4 s;
    // the jitter takes at most a tenth, and 4 × 0.9 rounds up to 4 again.
    let app = spawn_app_with(&[
        ("QUEUE_ACTIVE_LIMIT", "1"),
        ("QUEUE_POLL_MAX_SECONDS", "4"),
        ("WAITING_TOKEN_IDLE_SECONDS", "2"),
    ])
    .await;
    assert_active(&app.issue_new(&unique("a")).await);
    let waiter = token_of(&app.issue_new(&unique("w")).await);
    let (hint, idle) = (Duration::from_secs(4), Duration::from_secs(2));

    // Just before hint + idle, twice: each call sets the next deadline from its own answer.
    for _ in 0..2 {
        let view = app.poll(&waiter).await;
        let answered = Instant::now();
        assert_waiting(&view, 1);
        assert_eq!(view["pollAfterSeconds"], 4, "{view}");
        tokio::time::sleep(hint + idle - Duration::from_millis(800)).await;
        assert!(answered.elapsed() < hint + idle);
    }
    // Just after: gone.
    let called = Instant::now();
    assert_waiting(&app.poll(&waiter).await, 1);
    tokio::time::sleep((hint + idle + Duration::from_millis(300)).saturating_sub(called.elapsed()))
        .await;
    assert_problem(
        app.status(&waiter).await,
        StatusCode::UNAUTHORIZED,
        "TOKEN_EXPIRED",
    )
    .await;
}
