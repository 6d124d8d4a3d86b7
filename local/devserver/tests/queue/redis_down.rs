//! An unreachable Redis: 503 with Retry-After, within the store timeout.

use super::*;

/// When redis refuses connections issuing and polling answer 503 with retry after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_refusing_connections_means_503_with_retry_after() {
    let app = spawn_app_with(&[
        ("REDIS_URL", "redis://127.0.0.1:1"),
        ("STORE_TIMEOUT_MS", "300"),
    ])
    .await;
    // Signed, so the guard asks Redis rather than refusing it outright.
    let token = app.stray_token().to_string();
    for _ in 0..2 {
        let started = Instant::now();
        let res = app.issue_token(&unique("u")).await;
        assert_problem(res, StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE").await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );

        let started = Instant::now();
        let res = app.status(&token).await;
        assert_problem(res, StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE").await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }
}

/// When redis accepts but never answers issuing and polling answer 503 within the timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_never_answers_means_503_within_the_timeout() {
    // A Redis that takes the connection and says nothing.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let url = format!("redis://127.0.0.1:{port}");
    let app = spawn_app_with(&[("REDIS_URL", &url), ("STORE_TIMEOUT_MS", "300")]).await;
    // Signed, so the guard asks Redis rather than refusing it outright.
    let token = app.stray_token().to_string();
    for _ in 0..2 {
        let started = Instant::now();
        let res = app.issue_token(&unique("u")).await;
        assert_problem(res, StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE").await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );

        let started = Instant::now();
        let res = app.status(&token).await;
        assert_problem(res, StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE").await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }
    holder.abort();
}
