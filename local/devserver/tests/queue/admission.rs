//! Admission: the active limit, expiry of active tokens, spent tokens.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_an_active_limit_of_two_the_third_token_waits_at_position_1() {
    let app = spawn_app_with(&[("QUEUE_ACTIVE_LIMIT", "2")]).await;
    let first = app.issue_new(&unique("a")).await;
    let second = app.issue_new(&unique("b")).await;
    let third = app.issue_new(&unique("c")).await;
    assert_active(&first);
    assert_active(&second);
    assert_waiting(&third, 1);
    assert_waiting(&app.poll(&token_of(&third)).await, 1);
}

/// After a deploy raises the active limit the first waiter is admitted on its next poll.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raised_active_limit_admits_the_first_waiter_on_its_next_poll() {
    // Two apps on one Redis queue: the old deploy (limit 1) and the new one (limit 2). Upkeep
    // runs only when due; a new limit must count as due, since no clock event announces it.
    let prefix = unique("t");
    let old = spawn_app_with(&[("QUEUE_ACTIVE_LIMIT", "1"), ("REDIS_KEY_PREFIX", &prefix)]).await;
    let new = spawn_app_with(&[("QUEUE_ACTIVE_LIMIT", "2"), ("REDIS_KEY_PREFIX", &prefix)]).await;
    assert_active(&old.issue_new(&unique("a")).await);
    let second = old.issue_new(&unique("b")).await;
    let third = old.issue_new(&unique("c")).await;
    assert_waiting(&old.poll(&token_of(&second)).await, 1);

    assert_active(&new.poll(&token_of(&second)).await);
    assert_waiting(&new.poll(&token_of(&third)).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_active_token_answers_401_token_expired_once_its_ttl_has_passed() {
    let _timing = TIMING.read().await;
    let app = spawn_app_with(&[("ACTIVE_TOKEN_TTL_SECONDS", "2")]).await;
    let view = app.issue_new(&unique("u")).await;
    let token = token_of(&view);
    assert_active(&app.poll(&token).await);

    // activeUntil is shown to the second, so the token ends within a second after it.
    let until = active_until(&view) + chrono::Duration::milliseconds(1_500);
    let left = (until - Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(left).await;
    assert_problem(
        app.status(&token).await,
        StatusCode::UNAUTHORIZED,
        "TOKEN_EXPIRED",
    )
    .await;
}

/// A freed slot goes to the longest waiting token on its next poll even when another polls
/// first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_freed_slot_goes_to_the_longest_waiter_even_if_another_polls_first() {
    let _timing = TIMING.read().await;
    let app = spawn_app_with(&[
        ("QUEUE_ACTIVE_LIMIT", "1"),
        ("ACTIVE_TOKEN_TTL_SECONDS", "2"),
    ])
    .await;
    let a = token_of(&app.issue_new(&unique("a")).await);
    let b = app.issue_new(&unique("b")).await;
    let c = app.issue_new(&unique("c")).await;
    assert_waiting(&b, 1);
    assert_waiting(&c, 2);

    // Only the second in line polls while A's time runs out: it moves up, it is not admitted.
    let seen_by_c = app
        .poll_until(
            &token_of(&c),
            Duration::from_millis(200),
            Duration::from_secs(20),
            |v| v["position"] != 2,
        )
        .await;
    assert_waiting(&seen_by_c, 1);

    // The longest waiting holds the slot when it next polls; the expired one is refused.
    assert_active(&app.poll(&token_of(&b)).await);
    assert_problem(
        app.status(&a).await,
        StatusCode::UNAUTHORIZED,
        "TOKEN_EXPIRED",
    )
    .await;
}

/// A spent token answers token expired and the next waiter is admitted on its next poll.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_token_is_expired_and_the_next_waiter_is_admitted() {
    let app = spawn_app_with(&[("QUEUE_ACTIVE_LIMIT", "1")]).await;
    let a = token_of(&app.issue_new(&unique("a")).await);
    let b = token_of(&app.issue_new(&unique("b")).await);
    let c = token_of(&app.issue_new(&unique("c")).await);
    assert_waiting(&app.poll(&b).await, 1);

    shared::flows::queue::spend(&app.state, &QueueToken::parse(&a).unwrap())
        .await
        .expect("the token is spent");

    assert_problem(
        app.status(&a).await,
        StatusCode::UNAUTHORIZED,
        "TOKEN_EXPIRED",
    )
    .await;
    assert_active(&app.poll(&b).await);
    assert_waiting(&app.poll(&c).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asking_again_after_the_token_was_spent_gives_a_new_token() {
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let old = token_of(&app.issue_new(&user).await);
    shared::flows::queue::spend(&app.state, &QueueToken::parse(&old).unwrap())
        .await
        .expect("the token is spent");

    let fresh = app.issue_new(&user).await;
    assert_ne!(token_of(&fresh), old);
    assert_active(&fresh);
    assert_problem(
        app.status(&old).await,
        StatusCode::UNAUTHORIZED,
        "TOKEN_EXPIRED",
    )
    .await;
}

/// A token of a line redis has lost (a failover, a flush) is expired by its signature, with no
/// dynamodb read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_of_a_line_redis_lost_is_expired_by_its_signature() {
    let app = spawn_app_with(&[]).await;
    let token = token_of(&app.issue_new(&unique("u")).await);
    let keys = LineKeys::new(
        app.state.redis.prefix(),
        &ConcertId::parse(&app.concert).unwrap(),
    );
    let removed: i64 = app
        .state
        .redis
        .run(|mut c| async move { redis::cmd("DEL").arg(&keys.0[..]).query_async(&mut c).await })
        .await
        .unwrap();
    assert!(removed > 0);
    assert_problem(
        app.status(&token).await,
        StatusCode::UNAUTHORIZED,
        "TOKEN_EXPIRED",
    )
    .await;
}
