//! The line's live controls, as the operator API sets them: in force from the next poll.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_paused_nobody_is_admitted_and_active_tokens_keep_working() {
    let app = spawn_app_with(&[("QUEUE_ACTIVE_LIMIT", "3")]).await;
    let a = token_of(&app.issue_new(&unique("a")).await);
    app.control(json!({ "paused": true })).await;

    // Two places are free, and still the next joins wait.
    assert_waiting(&app.issue_new(&unique("b")).await, 1);
    let c = token_of(&app.issue_new(&unique("c")).await);
    assert_waiting(&app.poll(&c).await, 2);
    assert_active(&app.poll(&a).await);
    let res = app
        .api
        .dates(&a, &app.concert)
        .await
        .expect("the server answers");
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_fills_the_free_places_at_once() {
    let app = spawn_app_with(&[("QUEUE_ACTIVE_LIMIT", "3")]).await;
    app.control(json!({ "paused": true })).await;
    let b = token_of(&app.issue_new(&unique("b")).await);
    let c = token_of(&app.issue_new(&unique("c")).await);
    let d = token_of(&app.issue_new(&unique("d")).await);
    let e = token_of(&app.issue_new(&unique("e")).await);
    assert_waiting(&app.poll(&e).await, 4);

    app.control(json!({ "paused": false })).await;
    // The last in line polls first: its poll admits the three ahead of it.
    assert_waiting(&app.poll(&e).await, 1);
    for t in [&b, &c, &d] {
        assert_active(&app.poll(t).await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raised_limit_admits_on_the_next_poll_with_no_redeploy() {
    let app = spawn_app_with(&[("QUEUE_ACTIVE_LIMIT", "1")]).await;
    assert_active(&app.issue_new(&unique("a")).await);
    let b = token_of(&app.issue_new(&unique("b")).await);
    let c = token_of(&app.issue_new(&unique("c")).await);
    assert_waiting(&app.poll(&b).await, 1);

    app.control(json!({ "activeLimit": 2 })).await;
    assert_active(&app.poll(&b).await);
    assert_waiting(&app.poll(&c).await, 1);
}

/// A lowered limit never ends an ACTIVE token: it only stops admissions until the line is
/// under it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lowered_limit_evicts_nobody_and_admits_again_once_under_it() {
    let app = spawn_app_with(&[("QUEUE_ACTIVE_LIMIT", "3")]).await;
    let active: Vec<String> = join_all((0..3).map(|_| app.issue_new_owned())).await;
    for t in &active {
        assert_active(&app.poll(t).await);
    }
    let w = token_of(&app.issue_new(&unique("w")).await);
    app.control(json!({ "activeLimit": 1 })).await;
    for t in &active {
        assert_active(&app.poll(t).await);
    }

    // Three ACTIVE, limit 1: the first two places freed stay empty.
    for t in &active[..2] {
        shared::flows::queue::spend(&app.state, &QueueToken::parse(t).unwrap())
            .await
            .expect("the token is spent");
        assert_waiting(&app.poll(&w).await, 1);
    }
    shared::flows::queue::spend(&app.state, &QueueToken::parse(&active[2]).unwrap())
        .await
        .expect("the token is spent");
    assert_active(&app.poll(&w).await);
}

/// The controls are the concert's, in DynamoDB: a line Redis lost comes back obeying them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controls_survive_redis_losing_the_line() {
    let app = spawn_app_with(&[("QUEUE_ACTIVE_LIMIT", "5")]).await;
    app.control(json!({ "activeLimit": 1 })).await;
    app.drop_line().await;
    assert_active(&app.issue_new(&unique("a")).await);
    assert_waiting(&app.issue_new(&unique("b")).await, 1);

    app.control(json!({ "paused": true, "activeLimit": 5 }))
        .await;
    app.drop_line().await;
    // An empty line with places free, and paused still.
    let c = app.issue_new(&unique("c")).await;
    assert_waiting(&c, 1);
    app.drop_line().await;
    // A poll of a token the line lost is expired, with or without a mirror.
    assert_problem(
        app.status(&token_of(&c)).await,
        StatusCode::UNAUTHORIZED,
        "TOKEN_EXPIRED",
    )
    .await;
    assert_waiting(&app.issue_new(&unique("d")).await, 1);
}

/// A change stored in DynamoDB whose copy to the line failed is in force once the line
/// confirms its copy (at most 10 s on), and the copy serves until then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_the_lines_copy_missed_is_in_force_after_the_recheck() {
    let app = spawn_app_with(&[("QUEUE_ACTIVE_LIMIT", "3")]).await;
    let a = token_of(&app.issue_new(&unique("a")).await);
    let concert = ConcertId::parse(&app.concert).unwrap();
    // Stored, and not copied: what a failed copy leaves.
    app.state
        .db
        .set_controls(&concert, None, Some(true))
        .await
        .expect("stored")
        .expect("the concert exists");
    assert_active(&app.issue_new(&unique("b")).await);

    app.age_mirror().await;
    assert_waiting(&app.issue_new(&unique("c")).await, 1);
    assert_active(&app.poll(&a).await);
}

/// The recheck is one caller's: the rest go on with the mirror meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_recheck_falls_due_one_of_twenty_concurrent_polls_reads_the_concert() {
    let app = spawn_app_with(&[]).await;
    let user = unique("a");
    let token = QueueToken::parse(&token_of(&app.issue_new(&user).await)).unwrap();
    let (state, sent) = shared::counting::counted_state(app.state.settings.clone())
        .await
        .unwrap();
    app.age_mirror().await;
    let user = shared::domain::UserId::parse(&user).unwrap();
    let polls = join_all((0..20).map(|_| shared::flows::queue::poll(&state, &token, &user))).await;
    for poll in &polls {
        assert!(poll.is_ok(), "{poll:?}");
    }
    assert_eq!(sent.take(), ["GetItem"]);
}

/// A recheck is not worth a refusal: when DynamoDB cannot be read, the mirror serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recheck_that_cannot_read_dynamodb_goes_on_with_the_mirror() {
    let app = spawn_app_with(&[("QUEUE_ACTIVE_LIMIT", "1"), ("STORE_TIMEOUT_MS", "300")]).await;
    assert_active(&app.issue_new(&unique("a")).await);
    let user = unique("b");
    let b = QueueToken::parse(&token_of(&app.issue_new(&user).await)).unwrap();
    let user = shared::domain::UserId::parse(&user).unwrap();
    let mut state = shared::AppState::new(app.state.settings.clone())
        .await
        .unwrap();
    let nowhere = state
        .db
        .client
        .config()
        .to_builder()
        .endpoint_url("http://127.0.0.1:1")
        .build();
    state.db = shared::store::dynamo::Db::new(
        aws_sdk_dynamodb::Client::from_conf(nowhere),
        state.db.table.clone(),
        state.db.reservations.clone(),
    );
    app.age_mirror().await;
    let status = shared::flows::queue::poll(&state, &b, &user)
        .await
        .expect("the mirror serves");
    assert_eq!(status.position(), Some(1), "{status:?}");
}
