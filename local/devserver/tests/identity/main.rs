//! Who the buyer is, over HTTP through the local server, which plays the identity provider and
//! API Gateway's JWT authorizer as AWS runs them: the issuer's own routes, every kind of
//! refused access token (each the gateway's 401, before any store is asked), and each
//! owner-only route refusing another signed-in user.

#[path = "../common/mod.rs"]
mod common;

mod cross_user;
mod issuer;
mod refused;

use std::sync::Arc;

use common::{answer, assert_problem, spawn_app, unique, Client, TestApp};
use devserver::auth::{CLIENT_ID, KID, REQUIRED_SCOPE};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use shared::counting::Counter;

/// The development key the local issuer signs with, and another one.
const DEV_KEY: &str = include_str!("../../../fixtures/issuer/dev.pem");
const OTHER_KEY: &str = include_str!("../../../fixtures/issuer/other.pem");
const DEV_PUBLIC_PEM: &str = include_str!("../../../fixtures/issuer/dev.pub.pem");

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// An access token's claims as the local issuer writes them, for `user` of `issuer`.
fn access_claims(issuer: &str, user: &str) -> Value {
    let now = now();
    json!({
        "sub": user,
        "iss": issuer,
        "client_id": CLIENT_ID,
        "token_use": "access",
        "scope": REQUIRED_SCOPE,
        "auth_time": now,
        "iat": now,
        "exp": now + 600,
        "jti": uuid::Uuid::new_v4().to_string(),
        "username": user,
    })
}

/// `claims` signed RS256 with `pem` under `kid`.
fn signed(pem: &str, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
    )
    .unwrap()
}

/// A token signed by the local issuer's own key.
fn dev_signed(claims: &Value) -> String {
    signed(DEV_KEY, KID, claims)
}

/// The issuer URL of the server at `base`: its discovery document says it.
async fn issuer_of(api: &Client) -> String {
    let res = api
        .request(Method::GET, "/.well-known/openid-configuration")
        .anonymous()
        .send()
        .await
        .unwrap();
    let doc: Value = res.json().unwrap();
    doc["issuer"].as_str().unwrap().to_owned()
}

/// Asserts API Gateway's own 401: `{"message":"Unauthorized"}` and a Bearer challenge.
fn assert_gateway_401(res: &common::Answer, case: &str) {
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "{case}: {}",
        res.text()
    );
    assert_eq!(
        res.json::<Value>().ok(),
        Some(json!({ "message": "Unauthorized" })),
        "{case}"
    );
    let challenge = res.header("www-authenticate").unwrap_or_default();
    assert!(challenge.starts_with("Bearer"), "{case}: {challenge:?}");
}
