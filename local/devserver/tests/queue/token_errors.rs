//! A missing, malformed or unknown token on the status poll.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_without_an_authorization_header_is_401_token_missing() {
    let app = spawn_app_with(&[]).await;
    let res = app.get("/queue/status", None).await;
    assert_problem(res, StatusCode::UNAUTHORIZED, "TOKEN_MISSING").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_with_a_malformed_token_or_another_scheme_is_401_token_invalid() {
    let app = spawn_app_with(&[]).await;
    let real = token_of(&app.issue_new(&unique("u")).await);
    for header in [
        "Bearer not-a-uuid".to_owned(),
        "Basic xyz".to_owned(),
        format!("Basic {real}"),
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
        format!("Bearer {real}x"),
        real.clone(),
    ] {
        let res = app
            .api
            .request(Method::GET, "/queue/status")
            .header("authorization", &header)
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
