//! The HTTP glue every handler shares: body and path parsing into domain types, the token
//! guard, and responses. Errors become problem+json in exactly one place, [`problem`].

pub mod views;

use std::future::Future;

use http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::domain::{Invalid, QueueToken, UserId};
use crate::error::ApiError;
use crate::flows;
pub use crate::flows::queue::{Caller, Need};
use crate::state::AppState;

pub type HttpResponse = Response<Body>;

/// Larger bodies are refused before parsing; every request of the contract fits in far less.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Runs a handler's work and turns its refusal, if any, into problem+json.
pub async fn respond<F>(work: F) -> Result<HttpResponse, lambda_http::Error>
where
    F: Future<Output = Result<HttpResponse, ApiError>>,
{
    Ok(work.await.unwrap_or_else(|err| problem(&err)))
}

pub fn json<T: Serialize>(status: StatusCode, value: &T) -> HttpResponse {
    let body = serde_json::to_string(value).expect("response views serialize");
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json")
        .body(Body::Text(body))
        .expect("static response parts are valid")
}

/// The single mapping from an error to the client's answer. Internal causes are logged here,
/// whole, and never sent.
pub fn problem(err: &ApiError) -> HttpResponse {
    if matches!(err, ApiError::Unauthenticated) {
        return unauthorized(None);
    }
    let doc = err.problem();
    if doc.status >= 500 {
        crate::metrics::count(crate::metrics::Metric::ServerErrors);
        tracing::error!(code = doc.code, error = %err, cause = %cause_chain(err), "request failed");
    } else {
        tracing::debug!(code = doc.code, detail = %doc.detail, "request refused");
    }
    let mut builder = Response::builder()
        .status(doc.status)
        .header(CONTENT_TYPE, "application/problem+json");
    if doc.status == 503 {
        builder = builder.header(RETRY_AFTER, ApiError::RETRY_AFTER_SECONDS.to_string());
    }
    let body = serde_json::to_string(&doc).expect("problem documents serialize");
    builder
        .body(Body::Text(body))
        .expect("static response parts are valid")
}

fn cause_chain(err: &dyn std::error::Error) -> String {
    let mut out = String::new();
    let mut next = err.source();
    while let Some(cause) = next {
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&cause.to_string());
        next = cause.source();
    }
    out
}

/// Parses a JSON body strictly into `T`: unknown fields are refused, and the error names the
/// field that failed.
pub fn body<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    body_within(req, MAX_BODY_BYTES)
}

/// A catalog of 90 dates of many sections is more than a buyer's request; still bounded.
pub const MAX_ADMIN_BODY_BYTES: usize = 512 * 1024;

/// [`body`] with a limit of its own.
pub fn body_within<T: DeserializeOwned>(req: &Request, limit: usize) -> Result<T, ApiError> {
    let bytes = req.body().as_ref();
    if bytes.len() > limit {
        return Err(ApiError::validation(
            "body",
            format!("must be at most {limit} bytes"),
        ));
    }
    // serde would also take an array for a struct; the contract's bodies are objects.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::validation("body", "must be a JSON object"));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(body_error)?;
    de.end()
        .map_err(|_| ApiError::validation("body", "must hold one JSON value only"))?;
    Ok(value)
}

fn body_error(err: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = err.path().to_string();
    let inner = err.into_inner();
    let message = inner.to_string();
    // serde_json appends the position; the field name says more.
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or_default()
        .to_owned();
    if !inner.is_data() {
        return ApiError::validation("body", "must be valid JSON");
    }
    // Missing and unknown fields are reported on the parent; name the field itself.
    let named = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
            .map(str::to_owned)
    };
    if let Some(field) = named("missing field `") {
        return ApiError::validation(field, "is required");
    }
    if let Some(field) = named("unknown field `") {
        return ApiError::validation(field, "is not a field of this request");
    }
    let field = if path == "." { "body".to_owned() } else { path };
    ApiError::validation(field, message)
}

/// A path parameter, parsed. API Gateway (or the local router) has already matched the route.
pub fn path<T>(
    req: &Request,
    name: &'static str,
    parse: impl FnOnce(&str) -> Result<T, Invalid>,
) -> Result<T, ApiError> {
    let params = req.path_parameters();
    let raw = params
        .first(name)
        .ok_or_else(|| ApiError::validation(name, "is required"))?;
    parse(raw).map_err(|e| ApiError::validation(name, e.0))
}

/// The query string's parameters as API Gateway hands them (parsed from the raw query
/// string, values decoded): only those `allowed`, each at most once, else a 400 naming it.
pub fn query(
    req: &Request,
    allowed: &[&'static str],
) -> Result<std::collections::HashMap<&'static str, String>, ApiError> {
    let mut found = std::collections::HashMap::new();
    let Some(params) = req.query_string_parameters_ref() else {
        return Ok(found);
    };
    for (name, value) in params.iter() {
        let Some(known) = allowed.iter().find(|a| **a == name) else {
            return Err(ApiError::validation(
                name,
                "is not a query parameter of this request",
            ));
        };
        if found.insert(*known, value.to_owned()).is_some() {
            return Err(ApiError::validation(*known, "must be given once"));
        }
    }
    Ok(found)
}

/// The signed-in buyer: the `sub` claim API Gateway's JWT authorizer verified and put in the
/// request context (the local server plays that authorizer). The functions never check the
/// JWT again: the gateway did, and the request context is the gateway's, not the client's.
/// No claims, or a `sub` that is not a valid userId, is 401 as the gateway answers it; a body
/// is never asked who the buyer is.
pub fn buyer(req: &Request) -> Result<UserId, ApiError> {
    use lambda_http::request::RequestContext;
    let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref() else {
        return Err(ApiError::Unauthenticated);
    };
    ctx.authorizer
        .as_ref()
        .and_then(|a| a.jwt.as_ref())
        .and_then(|jwt| jwt.claims.get("sub"))
        .and_then(|sub| UserId::parse(sub).ok())
        .ok_or(ApiError::Unauthenticated)
}

/// A `userId` the request names (in its body or path) must be the signed-in buyer's.
pub fn must_be_buyer(buyer: &UserId, named: &UserId) -> Result<(), ApiError> {
    if buyer != named {
        return Err(ApiError::Forbidden(format!(
            "the signed-in user may not act for user {named}"
        )));
    }
    Ok(())
}

/// API Gateway's own answer to a refused access token: 401, `{"message":"Unauthorized"}` and a
/// `WWW-Authenticate` challenge (RFC 6750), with the reason when there is a token to refuse.
/// The local server's authorizer answers with this too.
pub fn unauthorized(reason: Option<&str>) -> HttpResponse {
    let challenge = match reason {
        Some(reason) => {
            format!(r#"Bearer scope="" error="invalid_token" error_description="{reason}""#)
        }
        None => "Bearer".to_owned(),
    };
    Response::builder()
        .status(StatusCode::UNAUTHORIZED)
        .header(CONTENT_TYPE, "application/json")
        .header(WWW_AUTHENTICATE, challenge)
        .body(Body::Text(r#"{"message":"Unauthorized"}"#.to_owned()))
        .expect("static response parts are valid")
}

/// The queue token, from `Queue-Token` (it left `Authorization` to the access token). Given
/// more than once, it is refused as TOKEN_INVALID: API Gateway (payload 2.0) joins repeated
/// headers with commas, which no token parses as, so the local server answers as AWS does.
pub fn queue_token(req: &Request) -> Result<QueueToken, ApiError> {
    let mut values = req.headers().get_all(QUEUE_TOKEN).iter();
    let Some(value) = values.next() else {
        return Err(ApiError::TokenMissing);
    };
    if values.next().is_some() {
        return Err(ApiError::TokenInvalid);
    }
    let value = value.to_str().map_err(|_| ApiError::TokenInvalid)?;
    QueueToken::parse(value.trim()).map_err(|_| ApiError::TokenInvalid)
}

/// The header that carries the queue token.
pub const QUEUE_TOKEN: &str = "Queue-Token";

/// An operator's request: in AWS, one API Gateway has authorized with IAM (SigV4: the
/// route's `AWS_IAM` authorizer puts the caller in the request context); elsewhere,
/// `Authorization: Bearer <ADMIN_TOKEN>`. Anything else is ADMIN_UNAUTHORIZED, before any I/O.
pub fn operator(state: &AppState, req: &Request) -> Result<(), ApiError> {
    use lambda_http::request::RequestContext;
    if let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref() {
        if ctx.authorizer.as_ref().is_some_and(|a| a.iam.is_some()) {
            return Ok(());
        }
    }
    let Some(expected) = &state.settings.admin_token else {
        return Err(ApiError::AdminUnauthorized);
    };
    let mut values = req.headers().get_all(AUTHORIZATION).iter();
    let presented = match (values.next(), values.next()) {
        (Some(v), None) => v.to_str().ok(),
        _ => None,
    };
    let token = presented
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    match token {
        Some(token) if expected.verify(token) => Ok(()),
        _ => Err(ApiError::AdminUnauthorized),
    }
}

/// The request's queue token through the queue's token guard ([`flows::queue::guard`]): live
/// (ACTIVE where `need` says so) and the signed-in buyer's own, FORBIDDEN otherwise.
pub async fn guard(
    state: &AppState,
    req: &Request,
    buyer: &UserId,
    need: Need,
) -> Result<Caller, ApiError> {
    let caller = flows::queue::guard(state, &queue_token(req)?, need).await?;
    if caller.user() != buyer {
        return Err(ApiError::Forbidden(
            "the queue token belongs to another user".into(),
        ));
    }
    Ok(caller)
}

/// The `Idempotency-Key` header, parsed; `None` when the request has none. Given twice, or
/// not 1 to 128 visible ASCII characters, it is a 400 naming the header.
pub fn idempotency_key(req: &Request) -> Result<Option<crate::domain::IdempotencyKey>, ApiError> {
    const HEADER: &str = "Idempotency-Key";
    let mut values = req.headers().get_all(HEADER).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::validation(HEADER, "must be given once"));
    }
    let text = value
        .to_str()
        .map_err(|_| ApiError::validation(HEADER, "must contain only visible ASCII characters"))?;
    crate::domain::IdempotencyKey::parse(text)
        .map(Some)
        .map_err(|e| ApiError::validation(HEADER, e.0))
}
