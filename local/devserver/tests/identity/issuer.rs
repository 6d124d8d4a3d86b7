//! The local issuer's own routes: discovery, the JWKS and the sign-in, all public.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_names_this_server_as_issuer_and_its_jwks() {
    let app = spawn_app().await;
    let res = app
        .api
        .request(Method::GET, "/.well-known/openid-configuration")
        .anonymous()
        .send()
        .await
        .unwrap();
    let (status, doc) = answer(res).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["issuer"], app.base.as_str());
    assert_eq!(
        doc["jwks_uri"],
        format!("{}/.well-known/jwks.json", app.base)
    );

    let res = app
        .api
        .request(Method::GET, "/.well-known/jwks.json")
        .anonymous()
        .send()
        .await
        .unwrap();
    let (status, jwks) = answer(res).await;
    assert_eq!(status, StatusCode::OK);
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    assert_eq!(key["kid"], KID);
    assert!(key["n"].is_string() && key["e"].is_string() && key.get("d").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_answers_an_access_token_whose_sub_is_the_username() {
    let app = spawn_app().await;
    let user = unique("u");
    let (status, body) = answer(app.api.sign_in(&user).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["tokenType"], "Bearer");
    assert_eq!(body["userId"], user.as_str());
    assert!(body["expiresIn"].as_u64().unwrap() >= 300);
    let token = body["accessToken"].as_str().unwrap();
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    };
    assert_eq!(claims["sub"], user.as_str());
    assert_eq!(claims["iss"], app.base.as_str());
    assert_eq!(claims["client_id"], CLIENT_ID);
    assert_eq!(claims["scope"], REQUIRED_SCOPE);

    // The buyer is the token's subject, whatever the body leaves out.
    let res = app
        .api
        .request(Method::POST, "/queue/tokens")
        .access_token(token)
        .json(&json!({ "concertId": app.concert }))
        .send()
        .await
        .unwrap();
    let (status, view) = answer(res).await;
    assert_eq!(status, StatusCode::CREATED, "{view}");
    assert_eq!(view["userId"], user.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_with_a_username_that_is_not_a_user_id_is_400_naming_it() {
    let app = spawn_app().await;
    for body in [
        json!({ "username": "a|b" }),
        json!({ "username": "" }),
        json!({ "username": "x".repeat(65) }),
        json!({}),
        json!({ "username": "ok", "password": "x" }),
    ] {
        let res = app
            .api
            .request(Method::POST, "/local/sign-in")
            .anonymous()
            .json(&body)
            .send()
            .await
            .unwrap();
        let problem = assert_problem(res, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            detail.contains("username") || detail.contains("password"),
            "{body}: {detail}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_naming_another_user_than_the_signed_in_one_is_403() {
    let app = spawn_app().await;
    let me = unique("u");
    let res = app
        .api
        .request(Method::POST, "/queue/tokens")
        .as_user(&me)
        .json(&json!({ "userId": unique("other"), "concertId": app.concert }))
        .send()
        .await
        .unwrap();
    assert_problem(res, StatusCode::FORBIDDEN, "FORBIDDEN").await;
}
