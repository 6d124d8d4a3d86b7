//! What API Gateway's JWT authorizer hands a function once it has checked a buyer's access
//! token: the verified claims (`sub` is the buyer) and the scopes, in the request context. The
//! in-process benchmarks (`load poll`, `load cold-start`) build their requests and Lambda events
//! with them, as AWS does; over HTTP, the server's own authorizer makes them from a real sign-in.

use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayRequestAuthorizer, ApiGatewayRequestAuthorizerJwtDescription,
    ApiGatewayV2httpRequestContext,
};
use lambda_http::request::RequestContext;
use lambda_http::RequestExt;
use serde_json::{json, Value};

/// The scope every buyer route requires (the template's `JwtRequiredScope`).
pub const SCOPE: &str = "aws.cognito.signin.user.admin";

/// The claims of a Cognito access token for `user`, each a string, as the gateway passes them.
pub fn claims(user: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "sub": user,
        "iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_LoadPool",
        "client_id": "loadclient",
        "token_use": "access",
        "scope": SCOPE,
        "auth_time": now.to_string(),
        "iat": now.to_string(),
        "exp": (now + 600).to_string(),
        "jti": uuid::Uuid::new_v4().to_string(),
        "username": user,
    })
}

/// An API Gateway v2 event's `requestContext.authorizer` for `user`.
pub fn authorizer(user: &str) -> Value {
    json!({ "jwt": { "claims": claims(user), "scopes": [SCOPE] } })
}

/// `req` as a function gets it behind the JWT authorizer: signed in as `user`.
pub fn signed_in(req: lambda_http::Request, user: &str) -> lambda_http::Request {
    let mut jwt = ApiGatewayRequestAuthorizerJwtDescription::default();
    jwt.claims = serde_json::from_value(claims(user)).expect("the claims are strings");
    jwt.scopes = Some(vec![SCOPE.to_owned()]);
    let mut authorizer = ApiGatewayRequestAuthorizer::default();
    authorizer.jwt = Some(jwt);
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.authorizer = Some(authorizer);
    req.with_request_context(RequestContext::ApiGatewayV2(context))
}
