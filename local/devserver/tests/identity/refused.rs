//! Every kind of refused access token: each is API Gateway's 401 before any store is asked.
//! The server under test cannot reach Redis (any call there would be a 503) and counts its
//! DynamoDB requests, so a 401 that touched a store would show.

use super::*;

/// A server over the app's settings whose Redis is unreachable and whose DynamoDB requests
/// are counted.
async fn offline_server(app: &TestApp) -> (Client, Arc<Counter>) {
    let mut offline = app.state.settings.clone();
    offline.redis_url = "redis://127.0.0.1:1".into();
    let (state, counter) = shared::counting::counted_state(offline).await.unwrap();
    let server = devserver::app(Arc::new(state)).unwrap();
    let addr = devserver::server::spawn(server, 0).await.unwrap();
    (Client::new(&format!("http://{addr}")).unwrap(), counter)
}

/// base64url without padding, as JWTs write their parts.
fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The refused tokens, by what is wrong with them.
fn refused_tokens(issuer: &str, user: &str) -> Vec<(&'static str, String)> {
    let good = access_claims(issuer, user);
    let with = |name: &str, value: Value| {
        let mut claims = good.clone();
        claims[name] = value;
        claims
    };
    let without = |name: &str| {
        let mut claims = good.clone();
        claims.as_object_mut().unwrap().remove(name);
        claims
    };
    let now = now();

    // The payload changed after signing: another user's name under this signature.
    let original = dev_signed(&good);
    let parts: Vec<&str> = original.split('.').collect();
    let changed = format!(
        "{}.{}.{}",
        parts[0],
        b64(with("sub", json!("someone-else")).to_string().as_bytes()),
        parts[2]
    );
    let payload = b64(good.to_string().as_bytes());
    let alg_none = format!(
        "{}.{payload}.",
        b64(json!({ "alg": "none", "typ": "JWT", "kid": KID })
            .to_string()
            .as_bytes())
    );
    // The classic confusion: HS256 with the RSA public key as the HMAC secret.
    let hs_header = b64(json!({ "alg": "HS256", "typ": "JWT", "kid": KID })
        .to_string()
        .as_bytes());
    let hs_input = format!("{hs_header}.{payload}");
    let mac = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, DEV_PUBLIC_PEM.as_bytes()),
        hs_input.as_bytes(),
    );
    let hs256 = format!("{hs_input}.{}", b64(mac.as_ref()));

    let id_token = {
        let mut claims = without("scope");
        claims["token_use"] = json!("id");
        claims.as_object_mut().unwrap().remove("client_id");
        claims["aud"] = json!(CLIENT_ID);
        claims
    };
    vec![
        ("a payload changed after signing", changed),
        ("alg none", alg_none),
        ("HS256 keyed with the public key", hs256),
        (
            "another key with the same kid",
            signed(OTHER_KEY, KID, &good),
        ),
        ("an unknown kid", signed(DEV_KEY, "another-kid", &good)),
        ("expired", dev_signed(&with("exp", json!(now - 120)))),
        ("not yet valid", dev_signed(&with("nbf", json!(now + 120)))),
        (
            "iat more than 60 s ahead",
            dev_signed(&with("iat", json!(now + 120))),
        ),
        (
            "the wrong issuer",
            dev_signed(&with("iss", json!("https://issuer.example"))),
        ),
        (
            "the wrong client_id",
            dev_signed(&with("client_id", json!("another-client"))),
        ),
        (
            "the wrong audience",
            dev_signed(&{
                let mut claims = without("client_id");
                claims["aud"] = json!("another-client");
                claims
            }),
        ),
        ("an ID token without the scope", dev_signed(&id_token)),
        ("a missing sub", dev_signed(&without("sub"))),
        (
            "a sub that is not a valid userId",
            dev_signed(&with("sub", json!("a|b"))),
        ),
        ("no expiry", dev_signed(&without("exp"))),
        ("not a JWT", "not-a-jwt".to_owned()),
        ("an empty token", String::new()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refused_access_token_is_the_gateways_401_before_any_store_is_asked() {
    let app = spawn_app().await;
    let (api, counter) = offline_server(&app).await;
    let issuer = issuer_of(&api).await;
    let user = unique("u");
    let queue_token = app.stray_token().to_string();
    let mut cases = refused_tokens(&issuer, &user);
    cases.push(("no Authorization header", "<none>".to_owned()));
    for (case, token) in &cases {
        let calls = [
            api.request(Method::GET, "/queue/status")
                .token(&queue_token),
            api.request(Method::POST, &format!("/users/{user}/balance/charges"))
                .token(&queue_token)
                .json(&json!({ "amount": 1000 })),
            api.request(Method::POST, "/queue/tokens")
                .json(&json!({ "concertId": app.concert })),
        ];
        for call in calls {
            let call = if token == "<none>" {
                call.anonymous()
            } else {
                call.access_token(token)
            };
            let res = call.send().await.unwrap();
            assert_gateway_401(&res, case);
        }
    }
    assert_eq!(counter.take(), Vec::<String>::new(), "no DynamoDB request");

    // The same calls with a good token do reach the stores (Redis is down here: 503).
    let good = dev_signed(&access_claims(&issuer, &user));
    let res = api
        .request(Method::GET, "/queue/status")
        .token(&queue_token)
        .access_token(&good)
        .send()
        .await
        .unwrap();
    assert_problem(res, StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_says_why_in_the_challenge_and_a_missing_one_does_not() {
    let app = spawn_app().await;
    let issuer = issuer_of(&app.api).await;
    let expired = {
        let mut claims = access_claims(&issuer, &unique("u"));
        claims["exp"] = json!(now() - 120);
        dev_signed(&claims)
    };
    let res = app
        .api
        .request(Method::GET, "/queue/status")
        .access_token(&expired)
        .send()
        .await
        .unwrap();
    assert_gateway_401(&res, "expired");
    let challenge = res.header("www-authenticate").unwrap();
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
    assert!(challenge.contains("expired"), "{challenge}");

    let res = app
        .api
        .request(Method::GET, "/queue/status")
        .anonymous()
        .send()
        .await
        .unwrap();
    assert_gateway_401(&res, "missing");
    assert_eq!(res.header("www-authenticate"), Some("Bearer"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clock_skew_of_up_to_60_seconds_is_tolerated_as_the_gateway_does() {
    let app = spawn_app().await;
    let issuer = issuer_of(&app.api).await;
    let user = unique("u");
    let now = now();
    let mut claims = access_claims(&issuer, &user);
    // Expired 30 s ago, valid from 30 s ahead, issued 30 s ahead: within the skew.
    claims["exp"] = json!(now - 30);
    claims["nbf"] = json!(now + 30);
    claims["iat"] = json!(now + 30);
    let res = app
        .api
        .request(Method::POST, "/queue/tokens")
        .access_token(&dev_signed(&claims))
        .json(&json!({ "concertId": app.concert }))
        .send()
        .await
        .unwrap();
    let (status, view) = answer(res).await;
    assert_eq!(status, StatusCode::CREATED, "{view}");
    assert_eq!(view["userId"], user.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_without_the_bearer_prefix_is_taken_as_the_gateway_takes_it() {
    let app = spawn_app().await;
    let user = unique("u");
    let access = app.api.access_token(&user).await.unwrap().unwrap();
    let res = app
        .api
        .request(Method::POST, "/queue/tokens")
        .anonymous()
        .header("authorization", &access)
        .json(&json!({ "concertId": app.concert }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text());
}
