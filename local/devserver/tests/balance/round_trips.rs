//! DynamoDB round trips per charge, and what a cancelled transaction hands back.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_charge_is_two_dynamodb_round_trips_a_replay_one_and_a_read_one() {
    let app = spawn_app_with(&[]).await;
    let (state, counter) = app.counted_state().await;
    let user = UserId::parse(&unique("u")).unwrap();
    let request = |won| ChargeRequest {
        amount: Amount::new(won).unwrap(),
    };
    let key = IdempotencyKey::parse("rt-1").unwrap();

    balance::get(&state, &user).await.unwrap();
    assert_eq!(counter.take(), ["GetItem"], "a read");

    balance::charge(&state, &user, &request(5), None)
        .await
        .unwrap();
    assert_eq!(
        counter.take(),
        ["BatchGetItem", "TransactWriteItems"],
        "a first charge"
    );
    balance::charge(&state, &user, &request(5), Some(&key))
        .await
        .unwrap();
    assert_eq!(
        counter.take(),
        ["BatchGetItem", "TransactWriteItems"],
        "a keyed charge"
    );
    let replay = balance::charge(&state, &user, &request(5), Some(&key))
        .await
        .unwrap();
    assert_eq!(counter.take(), ["BatchGetItem"], "a replay");
    assert_eq!(replay.balance.get(), 10);
    balance::charge(&state, &user, &request(6), Some(&key))
        .await
        .unwrap_err();
    assert_eq!(counter.take(), ["BatchGetItem"], "a reused key");
    assert_eq!(balance::get(&state, &user).await.unwrap().get(), 10);
}

/// Concurrent charges that lose the race retry from the cancellation without a new read.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn charges_that_lose_the_race_retry_without_a_new_read() {
    let app = spawn_app_with(&[]).await;
    let (state, counter) = app.counted_state().await;
    let user = UserId::parse(&unique("u")).unwrap();
    let request = ChargeRequest {
        amount: Amount::new(1).unwrap(),
    };
    let results = join_all((0..100).map(|_| balance::charge(&state, &user, &request, None))).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(balance::get(&state, &user).await.unwrap().get(), 100);

    let calls = counter.take();
    let count = |op: &str| calls.iter().filter(|c| c.as_str() == op).count();
    assert_eq!(count("BatchGetItem"), 100, "one read per charge");
    assert_eq!(
        count("GetItem"),
        1,
        "only the final check reads the balance again"
    );
    assert!(count("TransactWriteItems") >= 100);
    eprintln!(
        "100 concurrent charges on one user: {} TransactWriteItems ({:.1} per charge)",
        count("TransactWriteItems"),
        count("TransactWriteItems") as f64 / 100.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_balance_transaction_hands_back_the_items_that_beat_it() {
    use shared::domain::Won;
    use shared::store::balance::BalanceOutcome;
    use shared::store::items::{BalanceItem, IdempotencyItem, IdempotencyScope};

    let app = spawn_app_with(&[]).await;
    let c = app.caller().await;
    app.charge_ok(&c, 5, Some("k-1")).await;

    let db = &app.state.db;
    let user = UserId::parse(&c.user).unwrap();
    let now = chrono::Utc::now();
    let key = IdempotencyKey::parse("k-1").unwrap();
    let record = IdempotencyItem::new(
        &user,
        IdempotencyScope::Charge,
        &key,
        "{}".into(),
        "{}".into(),
        now,
    );
    let entry = |n| {
        LedgerItem::new(
            &user,
            uuid::Uuid::new_v4(),
            LedgerKind::Charge,
            Won::new(n),
            Won::new(n),
            now,
        )
    };
    // Written as if the balance had never been charged, under a key that is taken: the key
    // is read first, since a same-key winner also moved the balance.
    let outcome = db
        .move_balance(
            None,
            &BalanceItem::new(&user, Won::new(1), now),
            &entry(1),
            Some(&record),
        )
        .await
        .unwrap();
    let BalanceOutcome::KeyTaken(Some(taken)) = outcome else {
        panic!("expected the key's record, got {outcome:?}");
    };
    assert_eq!(taken.request, r#"{"amount":5}"#);
    // Without a key, the balance as it is now comes back.
    let outcome = db
        .move_balance(
            None,
            &BalanceItem::new(&user, Won::new(2), now),
            &entry(2),
            None,
        )
        .await
        .unwrap();
    assert!(
        matches!(outcome, BalanceOutcome::BalanceMoved(Some(w)) if w == Won::new(5)),
        "{outcome:?}"
    );
    assert_eq!(app.ledger(&c.user).await.len(), 1, "nothing was written");
}
