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
                .max_buf_size(64 * 1024)
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
    let request = http::Request::from_parts(parts, body).with_path_parameters(params);
    match handler(&app.state, request).await {
        Ok(response) => to_hyper(response),
        Err(e) => {
            // Handlers answer every refusal themselves; this is a bug, logged whole.
            tracing::error!(error = %e, "handler failed");
            let err = ApiError::Internal(shared::StoreError::Unexpected("handler failed".into()));
            to_hyper(problem(&err))
        }
    }
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
