//! Idempotency-Key on charges: replays, reuse, and one key sent many times at once.

use super::*;

/// A replay with the same key and body answers the same and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_of_key_and_body_answers_the_same_and_changes_nothing() {
    let app = spawn_app_with(&[]).await;
    let c = app.caller().await;
    app.charge_ok(&c, 1_000, None).await;

    let first = app.charge(&c, 700, Some("order-42")).await;
    assert_eq!(first.status(), StatusCode::OK);
    let first_body = first.text();
    assert_eq!(
        serde_json::from_str::<Value>(&first_body).unwrap(),
        json!({ "userId": c.user, "balance": 1_700 })
    );
    // Another charge moves the balance; the replay still answers what the first call did.
    app.charge_ok(&c, 300, None).await;

    for raw in [r#"{"amount":700}"#, r#"{ "amount" : 700 }"#] {
        let again = app
            .post_charge(
                &c.user,
                Some(&c.token),
                Some(HeaderValue::from_static("order-42")),
                raw.into(),
            )
            .await;
        assert_eq!(again.status(), StatusCode::OK);
        assert_eq!(again.text(), first_body, "the same answer");
    }
    assert_eq!(app.balance_of(&c).await, 2_000);
    assert_eq!(app.ledger(&c.user).await.len(), 3);
    assert_eq!(app.idempotency_records(&c.user).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_reused_with_another_body_is_422_and_changes_nothing() {
    let app = spawn_app_with(&[]).await;
    let c = app.caller().await;
    app.charge_ok(&c, 700, Some("order-43")).await;

    let res = app.charge(&c, 701, Some("order-43")).await;
    assert_problem(
        res,
        StatusCode::UNPROCESSABLE_ENTITY,
        "IDEMPOTENCY_KEY_REUSED",
    )
    .await;
    assert_eq!(app.balance_of(&c).await, 700);
    assert_eq!(app.ledger(&c.user).await.len(), 1);
    // The original request still replays.
    assert_eq!(
        app.charge_ok(&c, 700, Some("order-43")).await["balance"],
        700
    );
    // Keys are case-sensitive: another spelling is another key.
    assert_eq!(app.charge_ok(&c, 1, Some("ORDER-43")).await["balance"], 701);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_key_from_two_users_is_two_charges() {
    let app = spawn_app_with(&[]).await;
    let a = app.caller().await;
    let b = app.caller().await;
    assert_eq!(
        app.charge_ok(&a, 10, Some("shared-key")).await["balance"],
        10
    );
    assert_eq!(
        app.charge_ok(&b, 20, Some("shared-key")).await["balance"],
        20
    );
    assert_eq!(app.balance_of(&a).await, 10);
    assert_eq!(app.balance_of(&b).await, 20);
}

/// Twenty concurrent requests with one key charge once and all answer the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_requests_with_one_key_charge_once() {
    let app = spawn_app_with(&[]).await;
    let c = app.caller().await;
    let results = join_all((0..20).map(|_| async {
        let res = app.charge(&c, 500, Some("double-click")).await;
        (res.status(), res.text())
    }))
    .await;
    for (status, body) in &results {
        assert_eq!(*status, StatusCode::OK, "{body}");
        assert_eq!(body, &results[0].1);
    }
    assert_eq!(app.balance_of(&c).await, 500);
    assert_eq!(app.ledger(&c.user).await.len(), 1);
    assert_eq!(app.idempotency_records(&c.user).await, 1);
}
