//! Issuing a token, and asking again.

use super::*;
use shared::store::scripts::Issued;

/// A new token is 201 and active at once when a slot is free and nobody waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_token_is_201_and_active_when_a_slot_is_free() {
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let before = Utc::now();

    let res = app.issue_token(&user).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.headers()["content-type"], "application/json");
    let view: Value = res.json().unwrap();

    let keys: BTreeSet<&str> = view
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, FIELDS.into_iter().collect::<BTreeSet<_>>(), "{view}");
    assert!(
        QueueToken::parse(view["token"].as_str().unwrap()).is_ok(),
        "{view}"
    );
    assert_eq!(view["userId"], user.as_str());
    assert_eq!(view["concertId"], app.concert.as_str());
    assert_active(&view);
    let wait = &view["estimatedWaitSeconds"];
    assert!(
        wait.is_null() || wait == 0,
        "an active token waits for nothing: {view}"
    );
    // The default ACTIVE_TOKEN_TTL_SECONDS is 600; activeUntil is shown to the second.
    let until = active_until(&view);
    let after = Utc::now();
    assert!(
        until >= before + chrono::Duration::seconds(598),
        "{until} vs {before}"
    );
    assert!(
        until <= after + chrono::Duration::seconds(601),
        "{until} vs {after}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asking_again_answers_200_with_the_same_token_and_the_same_place() {
    let app = spawn_app_with(&[("QUEUE_ACTIVE_LIMIT", "1")]).await;
    let (a, b, c) = (unique("a"), unique("b"), unique("c"));
    let first_a = app.issue_new(&a).await;
    let first_b = app.issue_new(&b).await;
    let first_c = app.issue_new(&c).await;
    assert_active(&first_a);
    assert_waiting(&first_b, 1);
    assert_waiting(&first_c, 2);

    for _ in 0..3 {
        let (status, again_b) = app.issue(&b).await;
        assert_eq!(status, StatusCode::OK, "{again_b}");
        assert_eq!(again_b["token"], first_b["token"]);
        assert_waiting(&again_b, 1);

        let (status, again_a) = app.issue(&a).await;
        assert_eq!(status, StatusCode::OK, "{again_a}");
        assert_eq!(again_a["token"], first_a["token"]);
        assert_active(&again_a);
        assert_eq!(again_a["activeUntil"], first_a["activeUntil"]);
    }
    // Nobody moved: the one behind is still second.
    let (status, again_c) = app.issue(&c).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again_c["token"], first_c["token"]);
    assert_waiting(&again_c, 2);
}

/// A token for an unknown concert is 404 not found and nothing is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_concert_is_404_and_nothing_is_written() {
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let concert = unique("no-such-concert");
    let res = app
        .post_json(
            "/queue/tokens",
            None,
            &json!({"userId": user, "concertId": concert}),
        )
        .await;
    assert_problem(res, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    assert_eq!(app.redis_keys().await, Vec::<String>::new());
}

/// Waiting tokens get positions 1 to n in arrival order with no active until.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_tokens_get_positions_1_to_n_in_arrival_order() {
    let app = spawn_app_with(&[("QUEUE_ACTIVE_LIMIT", "1")]).await;
    assert_active(&app.issue_new(&unique("first")).await);
    let mut tokens = Vec::new();
    for n in 1..=5u64 {
        let view = app.issue_new(&unique("w")).await;
        assert_waiting(&view, n);
        let wait = &view["estimatedWaitSeconds"];
        assert!(wait.is_null() || wait.is_u64(), "{view}");
        tokens.push(token_of(&view));
    }
    // A poll tells each the same place.
    for (n, token) in (1..).zip(&tokens) {
        assert_waiting(&app.poll(token).await, n);
    }
}

/// Every new token is audited in one log line with its ID, user, concert and time, never the
/// token itself; asking again adds none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_new_token_is_audited_in_one_log_line_and_asking_again_adds_none() {
    capture_audit();
    let app = spawn_app_with(&[("QUEUE_ACTIVE_LIMIT", "1")]).await;
    for user in [unique("active"), unique("waiting")] {
        let before = Utc::now();
        let view = app.issue_new(&user).await;
        let after = Utc::now();
        app.issue(&user).await;
        let token = QueueToken::parse(view["token"].as_str().unwrap()).unwrap();
        let signed = app.state.settings.queue_token_key.verify(&token).unwrap();
        let lines = audit_lines_of(&user);
        assert_eq!(lines.len(), 1, "{lines:?}");
        let line = &lines[0];
        assert_eq!(line["target"], "audit", "{line}");
        assert_eq!(line["level"], "INFO", "{line}");
        let fields = &line["fields"];
        assert_eq!(fields["tokenId"], signed.id.as_str(), "{line}");
        assert_eq!(fields["concertId"], app.concert.as_str(), "{line}");
        let at = DateTime::parse_from_rfc3339(fields["issuedAt"].as_str().unwrap()).unwrap();
        // Shown to the millisecond.
        let before = before - chrono::Duration::milliseconds(1);
        assert!(before <= at && at <= after, "{line}");
        // The token is a credential: the line never holds it.
        assert!(!line.to_string().contains(token.as_str()), "{line}");
    }
}

/// A join, new or asked again, makes no DynamoDB request once the process knows the concert
/// (one read, the first time): the opening minute costs DynamoDB nothing for joins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_new_or_repeated_makes_no_dynamodb_request_once_the_concert_is_known() {
    let app = spawn_app_with(&[]).await;
    let (state, sent) = shared::counting::counted_state(app.state.settings.clone())
        .await
        .unwrap();
    let concert = ConcertId::parse(&app.concert).unwrap();
    let join = |user: &str| {
        let user = shared::domain::UserId::parse(user).unwrap();
        let (state, concert) = (&state, &concert);
        async move {
            match shared::flows::queue::issue(state, &user, concert).await {
                Ok(Issued::New(_)) => "new",
                Ok(Issued::Existing(_)) => "again",
                Err(e) => panic!("a join: {e}"),
            }
        }
    };
    let first = unique("u");
    assert_eq!(join(&first).await, "new");
    assert_eq!(sent.take(), ["GetItem"], "the first join reads the concert");
    for n in 0..3 {
        let user = unique("u");
        assert_eq!(join(&user).await, "new");
        assert_eq!(join(&user).await, "again");
        assert_eq!(join(&first).await, "again");
        assert_eq!(sent.take(), Vec::<String>::new(), "joins {n}");
    }
}
