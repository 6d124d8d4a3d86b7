//! A development HTTP server: turns each request into the `lambda_http::Request` API Gateway
//! would hand the function (path parameters included), calls that function's handler, and
//! writes its answer back. It is not a second implementation.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_http::{Body, RequestExt};
use shared::error::ApiError;
use shared::http::{problem, unauthorized, HttpResponse};
use shared::AppState;
use tokio::net::TcpListener;

use crate::auth::{self, LocalAuth};
use crate::routes::{Matched, RouteAuth, Router};

/// API Gateway's own payload limit is 10 MB; reading stops well before that, and the handler
/// refuses anything over its own limit.
const MAX_READ_BYTES: usize = 1024 * 1024;

/// API Gateway's HTTP API takes at most 10,240 bytes of request line and header values; the
/// local server refuses more as a 400 naming `headers` (names are counted too, so a flood of
/// empty headers is refused as well).
pub const MAX_HEAD_BYTES: usize = 10_240;

/// hyper's own limits sit far above [`MAX_HEAD_BYTES`], so an oversized head reaches
/// [`handle`] and gets problem+json. Only one past these (over 1,024 headers, or a head over
/// 64 KiB) is refused by hyper itself, with a bare 431 or 414, before any handler is involved.
const MAX_HEADERS_READ: usize = 1024;
const MAX_HEAD_READ: usize = 64 * 1024;

pub struct App {
    pub state: Arc<AppState>,
    pub router: Router,
    /// The identity provider and API Gateway's JWT authorizer, played locally.
    pub auth: LocalAuth,
}

/// Serves until the task is dropped.
pub async fn serve(listener: TcpListener, app: Arc<App>) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let app = app.clone();
                async move { Ok::<_, Infallible>(handle(&app, req).await) }
            });
            let _ = http1::Builder::new()
                .max_buf_size(MAX_HEAD_READ)
                .max_headers(MAX_HEADERS_READ)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Binds 127.0.0.1:`port` (0 for any free port) and serves in the background.
pub async fn spawn(app: Arc<App>, port: u16) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    // The issuer is this server, so a token names the server that signed it.
    app.auth.set_issuer(format!("http://{addr}"));
    tokio::spawn(serve(listener, app));
    Ok(addr)
}

async fn handle(app: &App, req: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    if head_bytes(&parts) > MAX_HEAD_BYTES {
        let err = ApiError::validation(
            "headers",
            format!("the request line and headers must total at most {MAX_HEAD_BYTES} bytes"),
        );
        return to_hyper(problem(&err));
    }
    // The pages and their files, before the API's routes (none of which they shadow).
    if let Some(page) = crate::static_files::serve(
        &parts.method,
        parts.uri.path(),
        app.state.settings.max_seats_per_user,
    ) {
        return page;
    }
    let matched = app.router.find(parts.method.as_str(), parts.uri.path());
    let bytes = match Limited::new(body, MAX_READ_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            let err = ApiError::validation("body", "is too large or was cut off");
            return to_hyper(problem(&err));
        }
    };
    let body = if bytes.is_empty() {
        Body::Empty
    } else {
        match String::from_utf8(bytes.to_vec()) {
            Ok(text) => Body::Text(text),
            Err(e) => Body::Binary(e.into_bytes()),
        }
    };
    let (handler, params, route_auth) = match matched {
        Matched::Found {
            handler,
            params,
            auth,
        } => (handler, params, auth),
        Matched::NotFound => {
            // The identity provider's own routes, local only.
            let request = http::Request::from_parts(parts, body);
            if let Some(answer) = auth::serve(&app.auth, &request) {
                return to_hyper(answer);
            }
            let err = ApiError::NotFound(format!(
                "no route for {} {}",
                request.method(),
                request.uri().path()
            ));
            return to_hyper(problem(&err));
        }
    };
    // As the Lambda runtime reads API Gateway's event: the query parameters from the raw
    // query string.
    let query: lambda_http::aws_lambda_events::query_map::QueryMap = parts
        .uri
        .query()
        .unwrap_or_default()
        .parse()
        .unwrap_or_default();
    let mut request = http::Request::from_parts(parts, body)
        .with_path_parameters(params)
        .with_query_string_parameters(query);
    // API Gateway's JWT authorizer runs before the function, and its 401 is the gateway's.
    if route_auth == RouteAuth::Jwt {
        // Repeated headers reach the gateway joined by commas, which no token parses as.
        let values: Vec<&str> = request
            .headers()
            .get_all(http::header::AUTHORIZATION)
            .iter()
            .map(|v| v.to_str().unwrap_or("\u{0}"))
            .collect();
        let header = (!values.is_empty()).then(|| values.join(","));
        match app.auth.verify(header.as_deref()) {
            Ok(verified) => request = request.with_request_context(auth::request_context(verified)),
            Err(refusal) => return to_hyper(unauthorized(refusal.description())),
        }
    }
    match handler(&app.state, request).await {
        Ok(response) => to_hyper(response),
        Err(e) => {
            // Handlers answer every refusal themselves; this is a bug, logged whole.
            tracing::error!(error = %e, "handler failed");
            let err = ApiError::Internal(shared::error::Internal::Bug("a handler failed".into()));
            to_hyper(problem(&err))
        }
    }
}

/// The request line and every header's name and value, as API Gateway counts its limit.
fn head_bytes(parts: &http::request::Parts) -> usize {
    let target = parts
        .uri
        .path_and_query()
        .map_or(parts.uri.path().len(), |pq| pq.as_str().len());
    let line = parts.method.as_str().len() + target;
    let headers: usize = parts
        .headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    line + headers
}

fn to_hyper(response: HttpResponse) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        Body::Empty => Bytes::new(),
        Body::Text(text) => Bytes::from(text),
        Body::Binary(data) => Bytes::from(data),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}
