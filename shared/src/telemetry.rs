//! Structured JSON logs through `tracing`, one line per event, as CloudWatch wants them.
//!
//! No log line holds a queue token or a whole request or response body. Our own events log
//! codes, IDs and error causes only; the dependencies that log whole payloads at TRACE (the
//! Lambda runtime: the raw API Gateway event, Authorization header and body included; the AWS
//! SDK: every DynamoDB request and response, idempotency records with their bodies) are held
//! at DEBUG whatever RUST_LOG says.
//!
//! The audit trail (target [`AUDIT`]: one line per new queue token) is kept at INFO whatever
//! RUST_LOG says: it is a record an operator queries, not a debug aid.

use tracing::Level;
use tracing_subscriber::filter::{filter_fn, Targets};
use tracing_subscriber::prelude::*;

/// The target of the audit lines, which RUST_LOG cannot silence.
pub const AUDIT: &str = "audit";

/// Target prefixes whose TRACE events carry whole payloads.
const PAYLOAD_TARGETS: &[&str] = &["lambda_runtime", "lambda_http", "aws_smithy", "aws_sigv4"];

/// Whether an event of this target and level may carry a whole request or response.
pub fn carries_payload(target: &str, level: &Level) -> bool {
    *level == Level::TRACE && PAYLOAD_TARGETS.iter().any(|t| target.starts_with(t))
}

/// Sets up logging once per process. RUST_LOG filters by level and target prefix, e.g.
/// `info` or `warn,shared=debug` (default `info`; one that does not parse means `info`).
pub fn init() {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(Level::INFO))
        .with_target(AUDIT, Level::INFO);
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(filter_fn(|meta| {
            !carries_payload(meta.target(), meta.level())
        }))
        .with(json_lines(std::io::stdout))
        .try_init();
}

/// One JSON object per event (`level`, `fields`, `target`), as every process writes them to
/// `writer`. No time: CloudWatch stamps each line (and the audit line carries its own).
pub fn json_lines<S, W>(writer: W) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(false)
        .with_target(true)
        .without_time()
        .with_writer(writer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_logging_dependencies_are_held_below_trace() {
        assert!(carries_payload(
            "lambda_runtime::layers::api_response",
            &Level::TRACE
        ));
        assert!(carries_payload(
            "aws_smithy_runtime::client::orchestrator",
            &Level::TRACE
        ));
        assert!(carries_payload(
            "aws_sigv4::http_request::sign",
            &Level::TRACE
        ));
        assert!(!carries_payload(
            "aws_smithy_runtime::client::orchestrator",
            &Level::DEBUG
        ));
        assert!(!carries_payload("shared::http", &Level::TRACE));
    }
}
