//! Reading the balance and charging it, up to the balance limit.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_who_never_charged_has_a_balance_of_zero() {
    let app = spawn_app_with(&[]).await;
    let c = app.caller().await;
    let res = app.get(&balance_path(&c.user), Some(&c.token)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let body: Value = res.json().unwrap();
    assert_eq!(body, json!({ "userId": c.user, "balance": 0 }));
    assert_eq!(app.everything(&c.user).await, 0, "a read writes nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_charge_answers_the_new_balance_and_leaves_one_ledger_entry() {
    let app = spawn_app_with(&[]).await;
    let c = app.caller().await;

    let res = app.charge(&c, 30_000, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let body: Value = res.json().unwrap();
    assert_eq!(body, json!({ "userId": c.user, "balance": 30_000 }));
    assert_eq!(app.balance_of(&c).await, 30_000);

    let entries = app.ledger(&c.user).await;
    assert_eq!(entries.len(), 1);
    let e = &entries[0];
    assert_eq!(e.kind, LedgerKind::Charge);
    assert_eq!(e.amount, 30_000);
    assert_eq!(e.balance_after.get(), 30_000);
    assert_eq!(e.user_id.as_str(), c.user);
    assert!((chrono::Utc::now() - e.at).num_seconds().abs() < 60);
    assert_eq!(
        app.idempotency_records(&c.user).await,
        0,
        "no key, no record"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn charges_add_up_and_the_ledger_holds_one_entry_for_each() {
    let app = spawn_app_with(&[]).await;
    let c = app.caller().await;
    assert_eq!(app.charge_ok(&c, 1, None).await["balance"], 1);
    assert_eq!(
        app.charge_ok(&c, 10_000_000, None).await["balance"],
        10_000_001
    );
    assert_eq!(app.charge_ok(&c, 999, None).await["balance"], 10_001_000);
    assert_eq!(app.balance_of(&c).await, 10_001_000);

    let entries = app.ledger(&c.user).await;
    assert_eq!(entries.len(), 3);
    // Sort keys put the ledger in time order.
    let amounts: Vec<i64> = entries.iter().map(|e| e.amount).collect();
    assert_eq!(amounts, vec![1, 10_000_000, 999]);
    let ids: std::collections::HashSet<_> = entries.iter().map(|e| e.entry_id).collect();
    assert_eq!(ids.len(), 3, "every charge has its own ID");
    assert_ledger_adds_up(&entries, 10_001_000);
}

/// The balance may reach one billion but a charge past it is 409 and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_balance_may_reach_a_billion_but_a_charge_past_it_is_409() {
    let app = spawn_app_with(&[]).await;
    let c = app.caller().await;
    // 99 × 10,000,000 + 9,999,999 = 999,999,999.
    let results = join_all((0..99).map(|_| app.charge(&c, 10_000_000, None))).await;
    assert!(results.iter().all(|r| r.status() == StatusCode::OK));
    app.charge_ok(&c, 9_999_999, None).await;
    assert_eq!(app.balance_of(&c).await, 999_999_999);

    let res = app.charge(&c, 2, Some("over-the-limit")).await;
    let problem = assert_problem(res, StatusCode::CONFLICT, "BALANCE_LIMIT_EXCEEDED").await;
    assert!(problem["detail"].as_str().unwrap().contains("1000000000"));
    assert_eq!(app.balance_of(&c).await, 999_999_999);
    assert_eq!(app.ledger(&c.user).await.len(), 100);
    assert_eq!(
        app.idempotency_records(&c.user).await,
        0,
        "a refused charge keeps no key"
    );

    assert_eq!(
        app.charge_ok(&c, 1, None).await["balance"],
        1_000_000_000,
        "exactly the limit is allowed"
    );
    for (amount, key) in [(1, None), (10_000_000, Some("k-2"))] {
        let res = app.charge(&c, amount, key).await;
        assert_problem(res, StatusCode::CONFLICT, "BALANCE_LIMIT_EXCEEDED").await;
    }
    assert_eq!(app.balance_of(&c).await, 1_000_000_000);
    let entries = app.ledger(&c.user).await;
    assert_eq!(entries.len(), 101);
    assert_ledger_adds_up(&entries, 1_000_000_000);
    assert_eq!(app.idempotency_records(&c.user).await, 0);
}
