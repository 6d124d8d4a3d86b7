//! What every Lambda binary's `main` does: JSON logs, state built once at cold start, then the
//! runtime loop calling the handler with that state.

use std::future::Future;

use lambda_http::{Error, Request};

use crate::http::HttpResponse;
use crate::state::AppState;

/// Builds the state once; a bad setting stops the start with a message naming the variable.
pub async fn cold_start() -> Result<&'static AppState, Error> {
    crate::telemetry::init();
    let state = AppState::from_env().await.inspect_err(|e| {
        tracing::error!(error = %e, "cold start failed");
    })?;
    // Lives as long as the execution environment; handing out &'static keeps handlers plain.
    Ok(Box::leak(Box::new(state)))
}

/// Serves an HTTP API function; `name` (the binary's) is the `Function` of its metrics.
pub async fn run_http<F, Fut>(name: &'static str, handler: F) -> Result<(), Error>
where
    F: Fn(&'static AppState, Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<HttpResponse, Error>> + Send,
{
    let state = cold_start().await?;
    lambda_http::run(lambda_http::service_fn(move |req| {
        crate::metrics::in_function(name, handler(state, req))
    }))
    .await
}

/// Serves an event-driven function (the stream release, the scheduled sweep).
pub async fn run_events<E, R, F, Fut>(name: &'static str, handler: F) -> Result<(), Error>
where
    E: serde::de::DeserializeOwned + Send + 'static,
    R: serde::Serialize + Send + 'static,
    F: Fn(&'static AppState, lambda_runtime::LambdaEvent<E>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, Error>> + Send,
{
    let state = cold_start().await?;
    lambda_runtime::run(lambda_runtime::service_fn(move |event| {
        crate::metrics::in_function(name, handler(state, event))
    }))
    .await
}
