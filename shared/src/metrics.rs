//! Business metrics as CloudWatch Embedded Metric Format lines on stdout, which CloudWatch
//! Logs turns into metrics of the namespace `ConcertBooking` with no API call and no agent.
//!
//! Each line carries its metrics twice: by `Function` (the binary's name: a dozen values, so a
//! dozen billed metrics each) and with no dimension at all, the total the alarms watch. No
//! concert or user is ever a dimension: every value of one is a metric of its own.
//!
//! The function's name comes from the task that runs the handler ([`in_function`]): the Lambda
//! runner and the local server set it around each call.

use std::future::Future;

use serde::Serialize;

pub const NAMESPACE: &str = "ConcertBooking";

/// What the contract counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    TokensIssued,
    Admissions,
    Polls,
    HoldsWon,
    HoldsRefused,
    SeatsReleasedByTtl,
    SeatsReleasedBySweep,
    SeatsReleasedByHolder,
    Payments,
    /// Won paid.
    Revenue,
    Refunds,
    /// Won refunded.
    RefundedAmount,
    /// 5xx answers.
    ServerErrors,
}

impl Metric {
    pub const ALL: [Metric; 13] = [
        Metric::TokensIssued,
        Metric::Admissions,
        Metric::Polls,
        Metric::HoldsWon,
        Metric::HoldsRefused,
        Metric::SeatsReleasedByTtl,
        Metric::SeatsReleasedBySweep,
        Metric::SeatsReleasedByHolder,
        Metric::Payments,
        Metric::Revenue,
        Metric::Refunds,
        Metric::RefundedAmount,
        Metric::ServerErrors,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Metric::TokensIssued => "TokensIssued",
            Metric::Admissions => "Admissions",
            Metric::Polls => "Polls",
            Metric::HoldsWon => "HoldsWon",
            Metric::HoldsRefused => "HoldsRefused",
            Metric::SeatsReleasedByTtl => "SeatsReleasedByTtl",
            Metric::SeatsReleasedBySweep => "SeatsReleasedBySweep",
            Metric::SeatsReleasedByHolder => "SeatsReleasedByHolder",
            Metric::Payments => "Payments",
            Metric::Revenue => "Revenue",
            Metric::Refunds => "Refunds",
            Metric::RefundedAmount => "RefundedAmount",
            Metric::ServerErrors => "ServerErrors",
        }
    }

    /// Won are not a CloudWatch unit: amounts are `None`, events `Count`.
    pub fn unit(self) -> &'static str {
        match self {
            Metric::Revenue | Metric::RefundedAmount => "None",
            _ => "Count",
        }
    }
}

tokio::task_local! {
    static FUNCTION: &'static str;
}

/// Runs `work` as function `name`: its metrics carry that name.
pub async fn in_function<F: Future>(name: &'static str, work: F) -> F::Output {
    FUNCTION.scope(name, work).await
}

fn function() -> &'static str {
    FUNCTION.try_with(|f| *f).unwrap_or("unknown")
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Definition {
    name: &'static str,
    unit: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Directive {
    namespace: &'static str,
    dimensions: [&'static [&'static str]; 2],
    metrics: Vec<Definition>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Metadata {
    timestamp: i64,
    cloud_watch_metrics: [Directive; 1],
}

#[derive(Serialize)]
struct Line {
    _aws: Metadata,
    #[serde(rename = "Function")]
    function: &'static str,
    #[serde(flatten)]
    values: serde_json::Map<String, serde_json::Value>,
}

/// One EMF document of `values` (at most one value per metric).
pub fn line(values: &[(Metric, f64)], function: &'static str, at_ms: i64) -> String {
    let line = Line {
        _aws: Metadata {
            timestamp: at_ms,
            cloud_watch_metrics: [Directive {
                namespace: NAMESPACE,
                dimensions: [&["Function"], &[]],
                metrics: values
                    .iter()
                    .map(|(m, _)| Definition {
                        name: m.name(),
                        unit: m.unit(),
                    })
                    .collect(),
            }],
        },
        function,
        values: values
            .iter()
            .map(|(m, v)| (m.name().to_owned(), serde_json::json!(v)))
            .collect(),
    };
    serde_json::to_string(&line).expect("an EMF line serializes")
}

/// Writes one line of these metrics. Nothing to write is nothing written.
pub fn record(values: &[(Metric, f64)]) {
    let values: Vec<(Metric, f64)> = values.iter().copied().filter(|(_, v)| *v != 0.0).collect();
    // Outside a function (the load tools run the flows in-process) there is no function to
    // count for, and a line per write would bury their report.
    if values.is_empty() || FUNCTION.try_with(|_| ()).is_err() {
        return;
    }
    let text = line(&values, function(), chrono::Utc::now().timestamp_millis());
    // One locked write of the whole line, so lines of concurrent requests never interleave
    // (and the test harness captures it, as it does any println).
    println!("{text}");
}

/// One of a metric.
pub fn count(metric: Metric) {
    record(&[(metric, 1.0)]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_an_emf_document_naming_the_metrics_it_carries() {
        let text = line(
            &[(Metric::Payments, 1.0), (Metric::Revenue, 50_000.0)],
            "pay",
            1_700_000_000_000,
        );
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let directive = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(v["_aws"]["Timestamp"], 1_700_000_000_000i64);
        assert_eq!(directive["Namespace"], "ConcertBooking");
        assert_eq!(
            directive["Dimensions"],
            serde_json::json!([["Function"], []])
        );
        assert_eq!(directive["Metrics"][1]["Name"], "Revenue");
        assert_eq!(directive["Metrics"][1]["Unit"], "None");
        assert_eq!(v["Function"], "pay");
        assert_eq!(v["Payments"], 1.0);
        assert_eq!(v["Revenue"], 50_000.0);
    }

    #[tokio::test]
    async fn the_function_comes_from_the_task_that_runs_the_handler() {
        assert_eq!(function(), "unknown");
        assert_eq!(in_function("pay", async { function() }).await, "pay");
    }
}
