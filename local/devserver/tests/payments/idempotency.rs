//! Idempotency-Key: a replay answers the first answer, a reused key is refused.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_key_and_body_replays_the_first_answer_and_writes_nothing() {
    let app = spawn_app_with(&[]).await;
    let date = app.dates[0].clone();
    let a = app.active_payer().await;
    app.charge(&a, 3 * PRICE).await;
    let rid = app.hold(&a, &date, 15).await;
    let key = IdempotencyKey::parse("pay-once").unwrap();
    let request = pay_request(&a.user, &rid);

    let first = pay_flow(&app.state, &a.queue_token(), &request, Some(&key))
        .await
        .expect("the first payment");
    let after_first = app.snapshot(&a.user, &rid, &date, 15).await;
    let second = pay_flow(&app.state, &a.queue_token(), &request, Some(&key))
        .await
        .expect("the replay");
    assert_eq!(second, first, "the identical answer");
    assert_eq!(app.snapshot(&a.user, &rid, &date, 15).await, after_first);

    // Over HTTP with a new token (the first one is spent): the very same body again.
    let token = app.fresh_token(&a.user).await;
    let res = app.pay(&token, &a.user, &rid, Some("pay-once")).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let view = serde_json::to_value(PaymentView::from(&first)).unwrap();
    assert_eq!(serde_json::from_str::<Value>(&res.text()).unwrap(), view);
    assert_eq!(app.snapshot(&a.user, &rid, &date, 15).await, after_first);

    assert_eq!(app.balance_in_db(&a.user).await, 2 * PRICE);
    let payments = app
        .ledger(&a.user)
        .await
        .iter()
        .filter(|e| e.kind == LedgerKind::Payment)
        .count();
    assert_eq!(payments, 1);
}

/// The same key with another body is 422 idempotency key reused and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_key_with_another_body_is_422_and_writes_nothing() {
    let app = spawn_app_with(&[]).await;
    let date = app.dates[0].clone();
    let a = app.active_payer().await;
    app.charge(&a, 3 * PRICE).await;
    let first_rid = app.hold(&a, &date, 16).await;
    let second_rid = app.hold(&a, &date, 17).await;
    let res = app
        .pay(&a.token, &a.user, &first_rid, Some("k-reused"))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);

    // Over HTTP, with a new token.
    let token = app.fresh_token(&a.user).await;
    let before = app.snapshot(&a.user, &second_rid, &date, 17).await;
    let res = app
        .pay(&token, &a.user, &second_rid, Some("k-reused"))
        .await;
    assert_problem(
        res,
        StatusCode::UNPROCESSABLE_ENTITY,
        "IDEMPOTENCY_KEY_REUSED",
    )
    .await;
    assert_eq!(app.snapshot(&a.user, &second_rid, &date, 17).await, before);

    // At the flow level.
    let key = IdempotencyKey::parse("k-reused").unwrap();
    let request = pay_request(&a.user, &second_rid);
    let err = pay_flow(&app.state, &a.queue_token(), &request, Some(&key))
        .await
        .expect_err("another body under the key");
    assert!(matches!(err, ApiError::IdempotencyKeyReused), "{err:?}");
    assert_eq!(app.snapshot(&a.user, &second_rid, &date, 17).await, before);

    assert_eq!(
        app.stored(&second_rid).await.status,
        ReservationStatus::Held
    );
    assert_eq!(app.balance_in_db(&a.user).await, 2 * PRICE);
    // Another key pays it.
    let res = app.pay(&token, &a.user, &second_rid, Some("k-other")).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(app.balance_in_db(&a.user).await, PRICE);
}
