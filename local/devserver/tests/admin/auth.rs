//! Who may call the operator API, and that its credential and a queue token never stand in
//! for each other.

use super::*;

#[tokio::test]
async fn every_admin_route_without_the_operator_token_is_401_admin_unauthorized() {
    let app = spawn_app().await;
    let queue_token = app.token_for(&unique("u")).await;
    let path = format!("/admin/concerts/{}", app.concert);
    let routes = [
        (Method::GET, path.clone()),
        (Method::PUT, path.clone()),
        (Method::PATCH, format!("{path}/queue")),
    ];
    let wrong = format!("{ADMIN_TOKEN}x");
    let credentials: [Option<&str>; 4] = [None, Some(&wrong), Some(&queue_token), Some("")];
    for (method, path) in &routes {
        for credential in credentials {
            let mut req = app.api.request(method.clone(), path);
            if let Some(c) = credential {
                req = req.token(c);
            }
            let res = req.json(&catalog("X", &[day(3)])).send().await.unwrap();
            assert_problem(res, StatusCode::UNAUTHORIZED, "ADMIN_UNAUTHORIZED").await;
        }
    }
    // Nothing was written by the refused PUTs.
    let (status, view) = get(&app, &app.concert).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(view["name"], "X", "{view}");
}

#[tokio::test]
async fn the_operator_token_never_passes_the_buyers_token_guard() {
    let app = spawn_app().await;
    let res = app.status(ADMIN_TOKEN).await;
    assert_problem(res, StatusCode::UNAUTHORIZED, "TOKEN_INVALID").await;
    let res = app
        .get(
            &format!("/concerts/{}/dates", app.concert),
            Some(ADMIN_TOKEN),
        )
        .await;
    assert_problem(res, StatusCode::UNAUTHORIZED, "TOKEN_INVALID").await;
    // Nor does it sign a buyer in: as the access token it is the gateway's 401.
    let res = app
        .api
        .request(Method::GET, "/queue/status")
        .operator(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.text(), r#"{"message":"Unauthorized"}"#);
}

#[tokio::test]
async fn a_server_without_an_operator_token_refuses_every_operator_call() {
    // ADMIN_TOKEN empty is not "unset"; a server that has none is what AWS runs (IAM decides
    // there), and locally it must turn everyone away.
    let app = common::spawn_app_without_admin().await;
    let res = app
        .api
        .admin_concert(ADMIN_TOKEN, &app.concert)
        .await
        .unwrap();
    assert_problem(res, StatusCode::UNAUTHORIZED, "ADMIN_UNAUTHORIZED").await;
}
