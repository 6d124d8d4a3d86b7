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
    /// Seats let in at the door.
    CheckIns,
    /// Scans the door refused, by `Reason` ([`Refusal`]): many of them at once are copied or
    /// forged tickets at a gate.
    CheckInsRefused,
}

/// Why the door refused a scan: the `Reason` dimension of [`Metric::CheckInsRefused`]. Four
/// values, so four metrics, never one per ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    TicketInvalid,
    AlreadyCheckedIn,
    TicketRefunded,
    UnknownTicket,
}

impl Refusal {
    pub const ALL: [Refusal; 4] = [
        Refusal::TicketInvalid,
        Refusal::AlreadyCheckedIn,
        Refusal::TicketRefunded,
        Refusal::UnknownTicket,
    ];

    /// The problem code the door answered with.
    pub fn name(self) -> &'static str {
        match self {
            Refusal::TicketInvalid => "TICKET_INVALID",
            Refusal::AlreadyCheckedIn => "ALREADY_CHECKED_IN",
            Refusal::TicketRefunded => "TICKET_REFUNDED",
            Refusal::UnknownTicket => "NOT_FOUND",
        }
    }
}

impl Metric {
    pub const ALL: [Metric; 15] = [
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
        Metric::CheckIns,
        Metric::CheckInsRefused,
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
            Metric::CheckIns => "CheckIns",
            Metric::CheckInsRefused => "CheckInsRefused",
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
    dimensions: Vec<&'static [&'static str]>,
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
    #[serde(rename = "Reason", skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    #[serde(flatten)]
    values: serde_json::Map<String, serde_json::Value>,
}

/// One EMF document of `values` (at most one value per metric).
pub fn line(values: &[(Metric, f64)], function: &'static str, at_ms: i64) -> String {
    line_with(values, function, None, at_ms)
}

/// [`line`], with a `Reason` too: the values then also carry it as a dimension of its own.
fn line_with(
    values: &[(Metric, f64)],
    function: &'static str,
    reason: Option<&'static str>,
    at_ms: i64,
) -> String {
    let mut dimensions: Vec<&'static [&'static str]> = vec![&["Function"], &[]];
    if reason.is_some() {
        dimensions.insert(1, &["Reason"]);
    }
    let line = Line {
        _aws: Metadata {
            timestamp: at_ms,
            cloud_watch_metrics: [Directive {
                namespace: NAMESPACE,
                dimensions,
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
        reason,
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

/// One refused scan at the door: `CheckInsRefused` by `Function`, by `Reason` and in total.
pub fn refused_check_in(reason: Refusal) {
    if FUNCTION.try_with(|_| ()).is_err() {
        return;
    }
    let text = line_with(
        &[(Metric::CheckInsRefused, 1.0)],
        function(),
        Some(reason.name()),
        chrono::Utc::now().timestamp_millis(),
    );
    println!("{text}");
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

    #[test]
    fn a_refused_scan_carries_its_reason_as_a_dimension_of_its_own() {
        let text = line_with(
            &[(Metric::CheckInsRefused, 1.0)],
            "admin_check_in",
            Some(Refusal::AlreadyCheckedIn.name()),
            1_700_000_000_000,
        );
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            serde_json::json!([["Function"], ["Reason"], []])
        );
        assert_eq!(v["Reason"], "ALREADY_CHECKED_IN");
        assert_eq!(v["CheckInsRefused"], 1.0);
        let plain: serde_json::Value =
            serde_json::from_str(&line(&[(Metric::CheckIns, 1.0)], "f", 0)).unwrap();
        assert!(plain.get("Reason").is_none());
    }

    #[tokio::test]
    async fn the_function_comes_from_the_task_that_runs_the_handler() {
        assert_eq!(function(), "unknown");
        assert_eq!(in_function("pay", async { function() }).await, "pay");
    }
}
