//! The local stand-in for the identity provider and API Gateway's JWT authorizer.
//!
//! In AWS a Cognito user pool issues the buyers' access tokens and the HTTP API's JWT
//! authorizer checks them before any function runs, handing the function the verified claims
//! in the request context. Locally this module is both:
//! - the issuer: `GET /.well-known/openid-configuration`, `GET /.well-known/jwks.json` and
//!   `POST /local/sign-in {"username"}`, which signs an access token shaped like Cognito's
//!   (RS256, `sub` = the username, `client_id`, `scope`, `token_use: access`);
//! - the authorizer: every route the template gives the JWT authorizer is checked as API
//!   Gateway checks it (RS256 only, a known `kid`, the signature, the exact issuer, `aud` or
//!   `client_id`, `exp`/`nbf`/`iat` with at most 60 s of clock skew, the scope, and a `sub`),
//!   and refused with the gateway's own 401 before any handler or store is involved.
//!
//! The signing key is a development key committed under `local/fixtures/issuer/`, compiled in
//! here; nothing of this module is linked into a Lambda binary or deployed.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lambda_events::apigw::{
    ApiGatewayRequestAuthorizer, ApiGatewayRequestAuthorizerJwtDescription,
    ApiGatewayV2httpRequestContext,
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use lambda_http::http::StatusCode;
use lambda_http::request::RequestContext;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use shared::domain::UserId;
use shared::http::{self, HttpResponse};

/// The scope the template requires on every buyer route: Cognito puts it in access tokens
/// only, so an ID token (which has `aud` but no `scope`) is refused.
pub const REQUIRED_SCOPE: &str = "aws.cognito.signin.user.admin";

/// The local app client's ID: the authorizer's audience.
pub const CLIENT_ID: &str = "local-buyer-pages";

/// The development key's ID in the JWKS.
pub const KID: &str = "local-dev-1";

/// API Gateway tolerates this much clock skew on `exp`, `nbf` and `iat`.
pub const CLOCK_SKEW_SECONDS: i64 = 60;

/// Access tokens live as long as the template's Cognito app client makes them live.
pub const ACCESS_TOKEN_SECONDS: i64 = 600;

const PRIVATE_KEY: &str = include_str!("../../fixtures/issuer/dev.pem");
const PUBLIC_JWK: &str = include_str!("../../fixtures/issuer/dev.jwk.json");

/// The local issuer and authorizer. Its issuer URL is the server's own address, known once
/// the server has bound its port ([`LocalAuth::set_issuer`]).
pub struct LocalAuth {
    issuer: OnceLock<String>,
    signing: EncodingKey,
    verifying: DecodingKey,
    jwk: Value,
}

/// Why a token was refused: the `error_description` of the gateway's challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No `Authorization` header (the gateway's challenge is a bare `Bearer`).
    Missing,
    Invalid(&'static str),
}

impl Refusal {
    pub fn description(self) -> Option<&'static str> {
        match self {
            Refusal::Missing => None,
            Refusal::Invalid(reason) => Some(reason),
        }
    }
}

/// The claims a signed-in request hands its function, as API Gateway passes them.
pub struct Verified {
    pub claims: HashMap<String, String>,
    pub scopes: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct AccessClaims {
    sub: String,
    iss: String,
    client_id: String,
    token_use: String,
    scope: String,
    auth_time: i64,
    iat: i64,
    exp: i64,
    jti: String,
    username: String,
}

impl Default for LocalAuth {
    fn default() -> Self {
        Self::new()
    }
}

impl LocalAuth {
    pub fn new() -> Self {
        let jwk: Value = serde_json::from_str(PUBLIC_JWK).expect("the dev JWK fixture is JSON");
        let component = |name: &str| jwk[name].as_str().expect("the dev JWK has n and e");
        Self {
            issuer: OnceLock::new(),
            signing: EncodingKey::from_rsa_pem(PRIVATE_KEY.as_bytes())
                .expect("the dev key fixture is an RSA key"),
            verifying: DecodingKey::from_rsa_components(component("n"), component("e"))
                .expect("the dev JWK fixture is an RSA public key"),
            jwk,
        }
    }

    /// The issuer URL (`http://127.0.0.1:PORT`), set once the server is bound.
    pub fn set_issuer(&self, issuer: String) {
        let _ = self.issuer.set(issuer);
    }

    pub fn issuer(&self) -> &str {
        self.issuer
            .get()
            .map(String::as_str)
            .unwrap_or("http://127.0.0.1")
    }

    /// `GET /.well-known/openid-configuration`: what a client or gateway needs to find the keys.
    pub fn discovery(&self) -> Value {
        let issuer = self.issuer();
        json!({
            "issuer": issuer,
            "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
            "token_endpoint": format!("{issuer}/local/sign-in"),
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": [REQUIRED_SCOPE],
        })
    }

    /// `GET /.well-known/jwks.json`: the public key.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.jwk] })
    }

    /// `POST /local/sign-in`: an access token for `user`, as Cognito would issue one.
    pub fn sign_in(&self, user: &UserId) -> Value {
        let now = unix_now();
        let claims = AccessClaims {
            sub: user.to_string(),
            iss: self.issuer().to_owned(),
            client_id: CLIENT_ID.to_owned(),
            token_use: "access".to_owned(),
            scope: REQUIRED_SCOPE.to_owned(),
            auth_time: now,
            iat: now,
            exp: now + ACCESS_TOKEN_SECONDS,
            jti: uuid::Uuid::new_v4().to_string(),
            username: user.to_string(),
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(KID.to_owned());
        let token = jsonwebtoken::encode(&header, &claims, &self.signing)
            .expect("RS256 signing with a valid key does not fail");
        json!({
            "accessToken": token,
            "tokenType": "Bearer",
            "expiresIn": ACCESS_TOKEN_SECONDS,
            "userId": user,
        })
    }

    /// The `Authorization` header's token, checked as API Gateway's JWT authorizer checks it.
    /// The header may hold the token alone or prefixed with `Bearer` (the authorizer's
    /// identity source takes both).
    pub fn verify(&self, authorization: Option<&str>) -> Result<Verified, Refusal> {
        let raw = authorization.ok_or(Refusal::Missing)?.trim();
        let token = match raw.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
            Some(_) => return Err(Refusal::Invalid("invalid authorization header")),
            None => raw,
        };
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| Refusal::Invalid("the token is malformed"))?;
        if header.alg != Algorithm::RS256 {
            return Err(Refusal::Invalid("the token's algorithm is not supported"));
        }
        if header.kid.as_deref() != Some(KID) {
            return Err(Refusal::Invalid("the token's key is unknown"));
        }
        // The signature only: the claims are checked below, each as the gateway words it.
        let mut signature_only = Validation::new(Algorithm::RS256);
        signature_only.required_spec_claims.clear();
        signature_only.validate_exp = false;
        signature_only.validate_nbf = false;
        signature_only.validate_aud = false;
        let data =
            jsonwebtoken::decode::<Map<String, Value>>(token, &self.verifying, &signature_only)
                .map_err(|_| Refusal::Invalid("the token's signature is invalid"))?;
        let claims = data.claims;
        self.check_claims(&claims, unix_now())?;
        let scopes = scopes(&claims);
        Ok(Verified {
            claims: claims
                .iter()
                .map(|(name, value)| (name.clone(), claim_text(value)))
                .collect(),
            scopes,
        })
    }

    fn check_claims(&self, claims: &Map<String, Value>, now: i64) -> Result<(), Refusal> {
        if claims.get("iss").and_then(Value::as_str) != Some(self.issuer()) {
            return Err(Refusal::Invalid("the token has an invalid issuer"));
        }
        let audience_ok = match claims.get("aud") {
            Some(Value::String(aud)) => aud == CLIENT_ID,
            Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(CLIENT_ID)),
            _ => false,
        } || claims.get("client_id").and_then(Value::as_str) == Some(CLIENT_ID);
        if !audience_ok {
            return Err(Refusal::Invalid("the token does not have a valid audience"));
        }
        let time = |name: &str| claims.get(name).map(|v| v.as_i64().ok_or(()));
        match time("exp") {
            Some(Ok(exp)) if exp + CLOCK_SKEW_SECONDS > now => {}
            Some(Ok(_)) => return Err(Refusal::Invalid("the token has expired")),
            _ => return Err(Refusal::Invalid("the token has no valid expiry")),
        }
        match time("nbf") {
            None => {}
            Some(Ok(nbf)) if nbf <= now + CLOCK_SKEW_SECONDS => {}
            Some(_) => return Err(Refusal::Invalid("the token is not valid yet")),
        }
        match time("iat") {
            None => {}
            Some(Ok(iat)) if iat <= now + CLOCK_SKEW_SECONDS => {}
            Some(_) => return Err(Refusal::Invalid("the token was issued in the future")),
        }
        if !scopes(claims).iter().any(|s| s == REQUIRED_SCOPE) {
            return Err(Refusal::Invalid(
                "the token does not have the required scope",
            ));
        }
        // The functions read the buyer from `sub`: a token without a usable one is refused
        // here rather than reaching them.
        let sub = claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if UserId::parse(sub).is_err() {
            return Err(Refusal::Invalid("the token's subject is not a valid user"));
        }
        Ok(())
    }
}

/// The issuer's own routes, which no template route shadows: discovery, the JWKS and, local
/// only, the sign-in. `None` for any other request.
pub fn serve(auth: &LocalAuth, req: &lambda_http::Request) -> Option<HttpResponse> {
    let method = req.method().as_str();
    Some(match (method, req.uri().path()) {
        ("GET", "/.well-known/openid-configuration") => {
            http::json(StatusCode::OK, &auth.discovery())
        }
        ("GET", "/.well-known/jwks.json") => http::json(StatusCode::OK, &auth.jwks()),
        ("POST", "/local/sign-in") => match http::body::<SignIn>(req) {
            Ok(body) => http::json(StatusCode::OK, &auth.sign_in(&body.username)),
            Err(err) => http::problem(&err),
        },
        _ => return None,
    })
}

/// `POST /local/sign-in`'s body: any valid userId signs in (there are no passwords locally).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    username: UserId,
}

/// The request context API Gateway (payload 2.0) gives a function behind the JWT authorizer.
pub fn request_context(verified: Verified) -> RequestContext {
    let mut jwt = ApiGatewayRequestAuthorizerJwtDescription::default();
    jwt.claims = verified.claims;
    jwt.scopes = Some(verified.scopes);
    let mut authorizer = ApiGatewayRequestAuthorizer::default();
    authorizer.jwt = Some(jwt);
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.authorizer = Some(authorizer);
    RequestContext::ApiGatewayV2(context)
}

/// `scope` (space-separated, as Cognito writes it) or `scp` (a list, as others do).
fn scopes(claims: &Map<String, Value>) -> Vec<String> {
    match (claims.get("scope"), claims.get("scp")) {
        (Some(Value::String(s)), _) => s.split_whitespace().map(str::to_owned).collect(),
        (_, Some(Value::Array(list))) => list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// API Gateway passes every claim as a string: text as it is, anything else as JSON text.
fn claim_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
