//! The token both calls need, and whose balance it opens.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_calls_need_a_live_token_401_otherwise_and_write_nothing() {
    let app = spawn_app_with(&[]).await;
    let c = app.caller().await;
    let spent = app.caller().await;
    shared::flows::queue::spend(&app.state, &QueueToken::parse(&spent.token).unwrap())
        .await
        .unwrap();
    let unknown = app.forged_token();

    let cases: Vec<(&str, Option<String>, &str)> = vec![
        (&c.user, None, "TOKEN_MISSING"),
        (&c.user, Some("not-a-token".into()), "TOKEN_INVALID"),
        (
            &c.user,
            Some(format!("Bearer {}", c.token)),
            "TOKEN_INVALID",
        ),
        (&c.user, Some(unknown), "TOKEN_INVALID"),
        (&spent.user, Some(spent.token.clone()), "TOKEN_EXPIRED"),
    ];
    for (user, queue_token, code) in cases {
        let mut get = app
            .api
            .request(Method::GET, &balance_path(user))
            .as_user(user);
        let mut post = app
            .api
            .request(Method::POST, &charges_path(user))
            .as_user(user)
            .header("Idempotency-Key", "k-1")
            .json(&json!({ "amount": 5 }));
        if let Some(t) = &queue_token {
            get = get.header(QUEUE_TOKEN, t);
            post = post.header(QUEUE_TOKEN, t);
        }
        assert_problem(get.send().await.unwrap(), StatusCode::UNAUTHORIZED, code).await;
        assert_problem(post.send().await.unwrap(), StatusCode::UNAUTHORIZED, code).await;
    }
    assert_eq!(app.everything(&c.user).await, 0);
    assert_eq!(app.everything(&spent.user).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_users_balance_is_403_forbidden_and_is_left_alone() {
    let app = spawn_app_with(&[]).await;
    let a = app.caller().await;
    let b = app.caller().await;
    app.charge_ok(&b, 100, None).await;

    let res = app.get(&balance_path(&b.user), Some(&a.token)).await;
    assert_problem(res, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    let res = app
        .post_charge(
            &b.user,
            Some(&a.token),
            None,
            json!({ "amount": 5 }).to_string(),
        )
        .await;
    assert_problem(res, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    // A user that does not exist at all is just as forbidden.
    let res = app
        .get(&balance_path(&unique("nobody")), Some(&a.token))
        .await;
    assert_problem(res, StatusCode::FORBIDDEN, "FORBIDDEN").await;

    assert_eq!(app.balance_of(&b).await, 100);
    assert_eq!(app.ledger(&b.user).await.len(), 1);
    assert_eq!(app.everything(&a.user).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_token_may_charge_and_read_its_balance() {
    let app = spawn_app_with(&[("QUEUE_ACTIVE_LIMIT", "1")]).await;
    let first = app.caller().await;
    let waiting = app.caller().await;
    let status: Value = app.status(&waiting.token).await.json().unwrap();
    assert_eq!(status["status"], "WAITING", "{status}");
    let status: Value = app.status(&first.token).await.json().unwrap();
    assert_eq!(status["status"], "ACTIVE", "{status}");

    assert_eq!(app.charge_ok(&waiting, 5_000, None).await["balance"], 5_000);
    assert_eq!(app.balance_of(&waiting).await, 5_000);
    assert_eq!(app.charge_ok(&first, 7, None).await["balance"], 7);

    let status: Value = app.status(&waiting.token).await.json().unwrap();
    assert_eq!(
        status["status"], "WAITING",
        "charging does not admit: {status}"
    );
}
