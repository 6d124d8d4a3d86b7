//! Many users at once, and one user asking many times at once.

use super::*;

/// A thousand concurrent requests from distinct users get distinct tokens 100 active and
/// positions 1 to 900.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_users_get_100_active_and_places_1_to_900() {
    let _exclusive = TIMING.write().await;
    let app = spawn_app_with(&[("QUEUE_ACTIVE_LIMIT", "100")]).await;
    let _burst = app.burst().await;
    let users: Vec<String> = (0..1_000).map(|i| format!("{}-{i}", unique("c"))).collect();

    let issued: Vec<(StatusCode, Value)> = join_all(users.iter().map(|u| app.issue(u))).await;
    let mut tokens = HashSet::new();
    let mut at_issue: HashMap<String, Value> = HashMap::new();
    for ((status, view), user) in issued.into_iter().zip(&users) {
        assert_eq!(status, StatusCode::CREATED, "{view}");
        assert_eq!(view["userId"], user.as_str());
        assert!(tokens.insert(token_of(&view)), "a duplicate token: {view}");
        at_issue.insert(token_of(&view), view);
    }
    assert_eq!(tokens.len(), 1_000);

    let polled: Vec<Value> = join_all(tokens.iter().map(|t| app.poll(t))).await;
    let active = polled.iter().filter(|v| v["status"] == "ACTIVE").count();
    assert_eq!(active, 100, "exactly QUEUE_ACTIVE_LIMIT are active");
    let mut positions: Vec<u64> = polled
        .iter()
        .filter(|v| v["status"] == "WAITING")
        .map(|v| v["position"].as_u64().expect("a position"))
        .collect();
    positions.sort_unstable();
    assert_eq!(positions, (1..=900).collect::<Vec<u64>>());
    // Nothing moved between issue and poll: every token was told its place at once.
    for view in &polled {
        let first = &at_issue[&token_of(view)];
        assert_eq!(view["status"], first["status"], "{view} vs {first}");
        assert_eq!(view["position"], first["position"], "{view} vs {first}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_asks_by_one_user_give_one_token_and_one_place() {
    let app = spawn_app_with(&[("QUEUE_ACTIVE_LIMIT", "1")]).await;
    assert_active(&app.issue_new(&unique("first")).await);
    let user = unique("u");
    capture_audit();

    let answers: Vec<(StatusCode, Value)> = join_all((0..50).map(|_| app.issue(&user))).await;
    let created = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    let repeated = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!((created, repeated), (1, 49));
    let tokens: HashSet<String> = answers.iter().map(|(_, v)| token_of(v)).collect();
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    for (_, view) in &answers {
        assert_waiting(view, 1);
    }
    assert_eq!(
        audit_lines_of(&user).len(),
        1,
        "one new token, audited once"
    );

    // Fifty more, now that the token exists: all 200, all the same token and place.
    let again: Vec<(StatusCode, Value)> = join_all((0..50).map(|_| app.issue(&user))).await;
    for (status, view) in &again {
        assert_eq!(*status, StatusCode::OK, "{view}");
        assert!(tokens.contains(&token_of(view)), "{view}");
        assert_waiting(view, 1);
    }
}
