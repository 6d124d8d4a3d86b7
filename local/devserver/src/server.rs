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
use shared::http::{problem, HttpResponse};
use shared::AppState;
use tokio::net::TcpListener;

use crate::routes::{Matched, Router};

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
    let (handler, params) = match app.router.find(parts.method.as_str(), parts.uri.path()) {
        Matched::Found { handler, params } => (handler, params),
        Matched::NotFound => {
            let err = ApiError::NotFound(format!(
                "no route for {} {}",
                parts.method,
                parts.uri.path()
            ));
            return to_hyper(problem(&err));
        }
    };
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
    // As the Lambda runtime reads API Gateway's event: the query parameters from the raw
    // query string.
    let query: lambda_http::aws_lambda_events::query_map::QueryMap = parts
        .uri
        .query()
        .unwrap_or_default()
        .parse()
        .unwrap_or_default();
    let request = http::Request::from_parts(parts, body)
        .with_path_parameters(params)
        .with_query_string_parameters(query);
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
