//! Per-endpoint figures: an HDR histogram of latencies (µs), the answers that succeeded, the
//! refusals by problem `code`, and the span between the first request and the last answer
//! (throughput is requests over that span).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// Latencies from 1 µs to 60 s, 3 significant figures.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

pub fn micros(d: Duration) -> u64 {
    (d.as_micros() as u64).clamp(1, 60_000_000)
}

/// `1.23 ms` / `456 µs`.
pub fn fmt_us(us: u64) -> String {
    if us >= 1_000 {
        format!("{:.2} ms", us as f64 / 1_000.0)
    } else {
        format!("{us} µs")
    }
}

pub struct Endpoint {
    pub hist: Histogram<u64>,
    pub ok: u64,
    /// Problem `code` (or `HTTP <status>` / `transport`) -> count.
    pub codes: BTreeMap<String, u64>,
    first: Option<Instant>,
    last: Option<Instant>,
}

impl Endpoint {
    fn new() -> Self {
        Self {
            hist: histogram(),
            ok: 0,
            codes: BTreeMap::new(),
            first: None,
            last: None,
        }
    }

    pub fn requests(&self) -> u64 {
        self.hist.len()
    }

    pub fn span(&self) -> Duration {
        match (self.first, self.last) {
            (Some(a), Some(b)) => b.saturating_duration_since(a),
            _ => Duration::ZERO,
        }
    }

    pub fn rate(&self) -> f64 {
        let secs = self.span().as_secs_f64();
        if secs > 0.0 {
            self.requests() as f64 / secs
        } else {
            0.0
        }
    }
}

/// Endpoints in the order they were first used.
#[derive(Default)]
pub struct Stats(Mutex<Vec<(&'static str, Endpoint)>>);

impl Stats {
    /// One answer (or failure) of `endpoint` to a request sent at `sent`; `code` is None for a
    /// success.
    pub fn record(&self, endpoint: &'static str, sent: Instant, code: Option<String>) {
        let done = Instant::now();
        let mut all = self.0.lock().expect("stats lock");
        let i = match all.iter().position(|(name, _)| *name == endpoint) {
            Some(i) => i,
            None => {
                all.push((endpoint, Endpoint::new()));
                all.len() - 1
            }
        };
        let e = &mut all[i].1;
        let _ = e.hist.record(micros(done - sent));
        match code {
            None => e.ok += 1,
            Some(code) => *e.codes.entry(code).or_default() += 1,
        }
        e.first = Some(e.first.map_or(sent, |f| f.min(sent)));
        e.last = Some(e.last.map_or(done, |l| l.max(done)));
    }

    /// `endpoint`'s requests and their summed latency (µs), p50 and p99 (µs); None when it had
    /// none.
    pub fn of(&self, endpoint: &str) -> Option<(u64, f64, u64, u64)> {
        let all = self.0.lock().expect("stats lock");
        let (_, e) = all.iter().find(|(name, _)| *name == endpoint)?;
        let n = e.requests();
        (n > 0).then(|| {
            (
                n,
                e.hist.mean() * n as f64,
                e.hist.value_at_quantile(0.5),
                e.hist.value_at_quantile(0.99),
            )
        })
    }

    /// Every endpoint's requests, and their summed latency (µs).
    pub fn totals(&self) -> (u64, f64) {
        let all = self.0.lock().expect("stats lock");
        all.iter().fold((0, 0.0), |(n, us), (_, e)| {
            (n + e.requests(), us + e.hist.mean() * e.requests() as f64)
        })
    }

    /// Requests per user by endpoint, in one line.
    pub fn per_user(&self, users: usize) -> String {
        let all = self.0.lock().expect("stats lock");
        all.iter()
            .map(|(name, e)| format!("{name} {:.2}", e.requests() as f64 / users.max(1) as f64))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A markdown table, one row per endpoint.
    pub fn table(&self) -> String {
        let all = self.0.lock().expect("stats lock");
        let mut out = String::from(
            "| endpoint | requests | 2xx | p50 | p90 | p99 | max | throughput | refusals and errors by code |\n\
             | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n",
        );
        for (name, e) in all.iter() {
            let q = |p: f64| fmt_us(e.hist.value_at_quantile(p));
            let codes = if e.codes.is_empty() {
                "-".to_owned()
            } else {
                e.codes
                    .iter()
                    .map(|(c, n)| format!("{c} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let _ = writeln!(
                out,
                "| {name} | {} | {} | {} | {} | {} | {} | {:.0}/s | {codes} |",
                e.requests(),
                e.ok,
                q(0.5),
                q(0.9),
                q(0.99),
                fmt_us(e.hist.max()),
                e.rate(),
            );
        }
        out
    }

    /// Requests that failed for a reason that is not an answer of the contract's business
    /// rules: 5xx and transport errors.
    pub fn server_errors(&self) -> u64 {
        let all = self.0.lock().expect("stats lock");
        all.iter()
            .flat_map(|(_, e)| e.codes.iter())
            .filter(|(code, _)| {
                code.as_str() == "INTERNAL_ERROR"
                    || code.as_str() == "SERVICE_UNAVAILABLE"
                    || code.starts_with("transport")
                    || code.starts_with("HTTP 5")
            })
            .map(|(_, n)| n)
            .sum()
    }
}
