//! Structured JSON logs through `tracing`, one line per event, as CloudWatch wants them.

use tracing_subscriber::EnvFilter;

/// Sets up logging once per process; RUST_LOG filters (default `info`).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_target(true)
        .without_time()
        .try_init();
}
