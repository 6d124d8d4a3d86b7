//! `pollAfterSeconds`, and a line that cleans up after itself.

use super::*;

/// The head is told two seconds and everyone a hint within the maximum, later places no sooner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_head_is_told_two_seconds_and_no_hint_exceeds_the_maximum() {
    // 30 admitted in the last minute: half a token a second, so places 1 to 5 are due within
    // 10 s.
    let app = spawn_app_with(&[
        ("QUEUE_ACTIVE_LIMIT", "30"),
        ("QUEUE_POLL_MAX_SECONDS", "20"),
    ])
    .await;
    for _ in 0..30 {
        assert_active(&app.issue_new(&unique("a")).await);
    }
    let mut hints = Vec::new();
    for n in 1..=40 {
        let view = app.issue_new(&unique("w")).await;
        assert_waiting(&view, n);
        hints.push(view["pollAfterSeconds"].as_u64().unwrap());
    }
    assert_eq!(hints[..5], [2; 5], "{hints:?}");
    assert!(hints.iter().all(|&h| (1..=20).contains(&h)), "{hints:?}");
    assert!(hints.windows(2).all(|w| w[0] <= w[1]), "{hints:?}");
    // A poll is paced the same way.
    let polled = app
        .poll(&token_of(&app.issue_new(&unique("w")).await))
        .await;
    assert!(
        polled["pollAfterSeconds"].as_u64().is_some_and(|h| h <= 20),
        "{polled}"
    );
}

/// Every key of the line, and of the dates cache, ends by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_key_of_the_line_has_an_end() {
    let app = spawn_app_with(&[("QUEUE_ACTIVE_LIMIT", "1")]).await;
    let active = app.issue_new(&unique("a")).await;
    let waiting = app.issue_new(&unique("w")).await;
    app.poll(&token_of(&waiting)).await;
    let dates = app
        .api
        .dates(&token_of(&active), &app.concert)
        .await
        .unwrap();
    assert_eq!(dates.status(), StatusCode::OK);
    let keys = app.redis_keys().await;
    assert!(keys.len() >= 7, "{keys:?}");
    for key in keys {
        let k = key.clone();
        let ttl: i64 = app
            .state
            .redis
            .run(|mut c| async move { redis::cmd("PTTL").arg(k).query_async(&mut c).await })
            .await
            .unwrap();
        assert!(ttl > 0, "{key} never ends (PTTL {ttl})");
    }
}
