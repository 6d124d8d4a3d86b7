//! Fair use in Redis (`BUYER_RATE_PER_SECOND`, `BUYER_BURST`): the buyer's bucket on the
//! concert's line, taken inside the join's and the guard's one script, and the bucket of the
//! routes that check no queue token; and the guard's binding of a token to its user. Through
//! the flows, against the real redis-server (and the 3-master cluster in `make test`).

use std::collections::BTreeMap;

use super::*;
use shared::domain::UserId;
use shared::flows::queue::{guard, issue, Need};
use shared::store::scripts::Issued;
use shared::ApiError;

fn user(name: &str) -> UserId {
    UserId::parse(&unique(name)).unwrap()
}

impl TestApp {
    fn concert_id(&self) -> ConcertId {
        ConcertId::parse(&self.concert).unwrap()
    }

    /// A join through the flow; its token.
    async fn join(&self, buyer: &UserId) -> QueueToken {
        match issue(&self.state, buyer, &self.concert_id()).await {
            Ok(Issued::New(s) | Issued::Existing(s)) => s.token,
            Err(e) => panic!("a join of {buyer}: {e}"),
        }
    }

    /// Every key of this app in Redis and its value (DUMP: the value whole, not its TTL).
    async fn snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        let mut all = BTreeMap::new();
        for key in self.redis_keys().await {
            let dump: Vec<u8> = self
                .state
                .redis
                .run(|mut c| {
                    let key = key.clone();
                    async move { redis::cmd("DUMP").arg(key).query_async(&mut c).await }
                })
                .await
                .expect("Redis answers");
            all.insert(key, dump);
        }
        all
    }
}

/// The wait a refusal gives, or a panic naming what came instead.
fn refused<T: std::fmt::Debug>(result: Result<T, ApiError>) -> u64 {
    match result {
        Err(ApiError::TooManyRequests {
            retry_after_seconds,
        }) => retry_after_seconds,
        other => panic!("fair use should refuse: {other:?}"),
    }
}

/// A concurrent burst over BUYER_BURST is refused in part, each refusal with a wait; another
/// buyer's bucket is untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_over_the_buyers_burst_is_refused_in_part_and_another_buyer_is_untouched() {
    let app = spawn_app_with(&[("BUYER_RATE_PER_SECOND", "1"), ("BUYER_BURST", "5")]).await;
    let (a, b) = (user("a"), user("b"));
    let token = app.join(&a).await;

    let burst = join_all((0..20).map(|_| guard(&app.state, &token, Need::Live, &a))).await;
    let let_through = burst.iter().filter(|r| r.is_ok()).count();
    // The join took one of five; at 1 a second, at most one more came in while it ran.
    assert!(
        (4..=5).contains(&let_through),
        "{let_through} of 20 let through"
    );
    for result in burst.into_iter().filter(|r| r.is_err()) {
        assert!(refused(result) >= 1);
    }

    // Another buyer on the same line has a whole bucket of its own.
    let token_b = app.join(&b).await;
    for _ in 0..4 {
        guard(&app.state, &token_b, Need::Live, &b)
            .await
            .expect("b's own bucket");
    }
    refused(guard(&app.state, &token_b, Need::Live, &b).await);
}

/// A call fair use refuses changes nothing: not the token's clocks, not the line, not the
/// bucket; a join refused is no token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_call_changes_nothing_in_redis() {
    let app = spawn_app_with(&[
        ("QUEUE_ACTIVE_LIMIT", "1"),
        ("BUYER_RATE_PER_SECOND", "1"),
        ("BUYER_BURST", "2"),
    ])
    .await;
    let (first, a, d) = (user("first"), user("a"), user("d"));
    app.join(&first).await;
    // a waits (its clocks move on each call that is let through); its bucket is then empty.
    let token = app.join(&a).await;
    guard(&app.state, &token, Need::Live, &a).await.unwrap();
    // d's token ends (spent), so d's next join would be a new place in line.
    let spent = app.join(&d).await;
    app.join(&d).await;
    shared::flows::queue::spend(&app.state, &spent)
        .await
        .unwrap();

    let before = app.snapshot().await;
    // Later than the snapshot on Redis's clock, so a touch would show.
    tokio::time::sleep(Duration::from_millis(20)).await;
    refused(guard(&app.state, &token, Need::Live, &a).await);
    refused(issue(&app.state, &a, &app.concert_id()).await);
    refused(issue(&app.state, &d, &app.concert_id()).await);
    refused(shared::flows::queue::poll(&app.state, &token, &a).await);
    assert_eq!(
        app.snapshot().await,
        before,
        "a refused call wrote something"
    );
}

/// The bucket holds BUYER_BURST calls and refills at BUYER_RATE_PER_SECOND, never past its
/// size; the routes without a queue token have a bucket of their own (one round trip).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bucket_refills_at_the_rate_up_to_the_burst() {
    let app = spawn_app_with(&[("BUYER_RATE_PER_SECOND", "1"), ("BUYER_BURST", "2")]).await;
    let buyer = user("u");
    let take = || shared::flows::fair_use::take(&app.state, &buyer);
    take().await.unwrap();
    take().await.unwrap();
    assert_eq!(
        refused(take().await),
        1,
        "one call a second: back within 1 s"
    );

    tokio::time::sleep(Duration::from_millis(1_020)).await;
    take().await.expect("one call came back");
    refused(take().await);

    tokio::time::sleep(Duration::from_millis(2_520)).await;
    take().await.expect("the first of two");
    take().await.expect("the second of two");
    refused(take().await);

    // The concert's bucket of the same buyer is another one, and it refills the same way.
    let token = app.join(&buyer).await;
    guard(&app.state, &token, Need::Live, &buyer).await.unwrap();
    refused(guard(&app.state, &token, Need::Live, &buyer).await);
    tokio::time::sleep(Duration::from_millis(1_020)).await;
    guard(&app.state, &token, Need::Live, &buyer)
        .await
        .expect("one call came back");
}

/// Another signed-in user presenting a token is FORBIDDEN, and the token is left untouched:
/// its clocks and its owner's bucket (the call is the presenter's).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_users_token_is_forbidden_and_left_untouched() {
    let app = spawn_app_with(&[
        ("QUEUE_ACTIVE_LIMIT", "1"),
        ("BUYER_RATE_PER_SECOND", "1"),
        ("BUYER_BURST", "100"),
    ])
    .await;
    let (first, owner, other) = (user("first"), user("owner"), user("other"));
    let active = app.join(&first).await;
    let waiting = app.join(&owner).await;
    // `other` has made a call on this line already: only its bucket may change below.
    app.join(&other).await;

    let before = app.snapshot().await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    for token in [&waiting, &active] {
        let result = guard(&app.state, token, Need::Live, &other).await;
        assert!(matches!(&result, Err(ApiError::Forbidden(_))), "{result:?}");
        let result = shared::flows::queue::poll(&app.state, token, &other).await;
        assert!(matches!(&result, Err(ApiError::Forbidden(_))), "{result:?}");
    }
    let (mut before, mut after) = (before, app.snapshot().await);
    let bucket = shared::store::scripts::LineKeys::fair(
        app.state.redis.prefix(),
        &app.concert_id(),
        shared::store::scripts::Who::Buyer(&other),
    );
    assert_ne!(
        after.remove(&bucket),
        before.remove(&bucket),
        "the presenter's calls"
    );
    assert_eq!(after, before, "the token or its owner's bucket changed");

    // Its owner's calls go on.
    guard(&app.state, &waiting, Need::Live, &owner)
        .await
        .unwrap();
}

/// Over HTTP, past fair use is 429 TOO_MANY_REQUESTS with `Retry-After`, and nothing was done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_past_fair_use_is_429_with_retry_after() {
    let app = spawn_app_with(&[("BUYER_RATE_PER_SECOND", "1"), ("BUYER_BURST", "1")]).await;
    let buyer = unique("u");
    let token = token_of(&app.issue_new(&buyer).await);
    let res = app.issue_token(&buyer).await;
    assert_eq!(res.header("retry-after"), Some("1"), "{}", res.text());
    let problem = assert_problem(res, StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_REQUESTS").await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("retry after 1 s"),
        "{problem}"
    );
    // The buyer's calls on the concert share the one bucket: a poll right after is 429 too.
    let res = app.status(&token).await;
    assert_eq!(res.header("retry-after"), Some("1"));
    assert_problem(res, StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_REQUESTS").await;
}
