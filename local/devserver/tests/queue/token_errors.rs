//! A missing, malformed or unknown token on the status poll.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_without_a_queue_token_header_is_401_token_missing() {
    let app = spawn_app_with(&[]).await;
    let res = app.get("/queue/status", None).await;
    assert_problem(res, StatusCode::UNAUTHORIZED, "TOKEN_MISSING").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_with_a_malformed_or_garbled_queue_token_is_401_token_invalid() {
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let real = token_of(&app.issue_new(&user).await);
    for header in [
        "not-a-uuid".to_owned(),
        "Basic xyz".to_owned(),
        format!("Bearer {real}"),
        String::new(),
        " ".to_owned(),
        format!("{real}x"),
        format!("{real},{real}"),
    ] {
        let res = app
            .api
            .request(Method::GET, "/queue/status")
            .as_user(&user)
            .header("queue-token", &header)
            .send()
            .await
            .unwrap();
        let problem = assert_problem(res, StatusCode::UNAUTHORIZED, "TOKEN_INVALID").await;
        assert!(problem["detail"].is_string(), "{header}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_with_an_unknown_uuid_is_401_token_invalid() {
    let app = spawn_app_with(&[]).await;
    let stranger = uuid::Uuid::new_v4().to_string();
    assert_problem(
        app.status(&stranger).await,
        StatusCode::UNAUTHORIZED,
        "TOKEN_INVALID",
    )
    .await;
}

/// A forged token is 401 token invalid without any store call, and a signed one the line does
/// not hold is 401 token expired with no dynamodb read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_token_costs_no_store_call_and_a_stray_one_no_dynamodb_read() {
    use shared::flows::queue::{guard, Need};
    let app = spawn_app_with(&[]).await;
    // Redis unreachable: any call to it would be a 503, not a 401.
    let mut offline = app.state.settings.clone();
    offline.redis_url = "redis://127.0.0.1:1".into();
    let (state, sent) = shared::counting::counted_state(offline).await.unwrap();
    let forged = QueueToken::parse(&app.forged_token()).unwrap();
    let refused = guard(&state, &forged, Need::Live).await.unwrap_err();
    assert_eq!(refused.parts().1, "TOKEN_INVALID");
    assert_eq!(sent.take(), Vec::<String>::new());

    let (state, sent) = shared::counting::counted_state(app.state.settings.clone())
        .await
        .unwrap();
    let refused = guard(&state, &app.stray_token(), Need::Live)
        .await
        .unwrap_err();
    assert_eq!(refused.parts().1, "TOKEN_EXPIRED");
    assert_eq!(sent.take(), Vec::<String>::new());

    assert_problem(
        app.status(&app.forged_token()).await,
        StatusCode::UNAUTHORIZED,
        "TOKEN_INVALID",
    )
    .await;
}
