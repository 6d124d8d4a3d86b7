//! The API as a client sees it, over HTTP with reqwest: one call per operation, each timed
//! into [`Stats`] under its endpoint's name. At most `connections` requests are in flight;
//! latency is measured from the moment a request may go (client-side queueing is not counted).

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use crate::stats::Stats;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Token {
    pub token: String,
    pub status: String,
    pub position: u64,
}

impl Token {
    pub fn active(&self) -> bool {
        self.status == "ACTIVE"
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DateAvailability {
    pub date: String,
    pub available_seats: u32,
}

#[derive(Debug, Deserialize)]
struct Dates {
    dates: Vec<DateAvailability>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Seat {
    pub seat_no: u16,
    pub status: String,
}

#[derive(Debug, Deserialize)]
struct Seats {
    seats: Vec<Seat>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reservation {
    pub reservation_id: String,
    pub seat_no: u16,
    pub price: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Balance {
    pub balance: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payment {
    pub reservation_id: String,
    pub amount: u64,
    pub balance: u64,
}

/// A refusal (the problem's `code`), another status, or no answer at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fail {
    pub status: Option<u16>,
    pub code: String,
}

impl Fail {
    pub fn is(&self, code: &str) -> bool {
        self.code == code
    }

    /// Worth another try with the same Idempotency-Key: 503 or no answer.
    pub fn retryable(&self) -> bool {
        self.status.is_none() || self.status == Some(503)
    }
}

impl std::fmt::Display for Fail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.status {
            Some(s) => write!(f, "{s} {}", self.code),
            None => write!(f, "{}", self.code),
        }
    }
}

#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    slots: Arc<Semaphore>,
    pub stats: Arc<Stats>,
}

impl Api {
    pub fn new(base: &str, connections: usize) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(connections)
            .tcp_nodelay(true)
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| anyhow::anyhow!("cannot build the HTTP client: {e}"))?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            slots: Arc::new(Semaphore::new(connections.max(1))),
            stats: Arc::new(Stats::default()),
        })
    }

    async fn call<T: DeserializeOwned>(
        &self,
        endpoint: &'static str,
        method: Method,
        path: &str,
        token: Option<&str>,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Result<T, Fail> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let _slot = self
            .slots
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let sent = Instant::now();
        let result = async {
            let resp = req.send().await.map_err(|e| Fail {
                status: None,
                code: transport(&e),
            })?;
            let status = resp.status();
            let bytes = resp.bytes().await.map_err(|e| Fail {
                status: Some(status.as_u16()),
                code: transport(&e),
            })?;
            if status.is_success() {
                serde_json::from_slice::<T>(&bytes).map_err(|e| Fail {
                    status: Some(status.as_u16()),
                    code: format!("bad body: {e}"),
                })
            } else {
                Err(Fail {
                    status: Some(status.as_u16()),
                    code: problem_code(status, &bytes),
                })
            }
        }
        .await;
        self.stats.record(
            endpoint,
            sent,
            result.as_ref().err().map(|f| f.code.clone()),
        );
        result
    }

    pub async fn issue(&self, user: &str, concert: &str) -> Result<Token, Fail> {
        let body = json!({ "userId": user, "concertId": concert });
        self.call(
            "POST /queue/tokens",
            Method::POST,
            "/queue/tokens",
            None,
            None,
            Some(body),
        )
        .await
    }

    pub async fn status(&self, token: &str) -> Result<Token, Fail> {
        self.call(
            "GET /queue/status",
            Method::GET,
            "/queue/status",
            Some(token),
            None,
            None,
        )
        .await
    }

    pub async fn dates(&self, token: &str, concert: &str) -> Result<Vec<DateAvailability>, Fail> {
        let path = format!("/concerts/{concert}/dates");
        let d: Dates = self
            .call("GET dates", Method::GET, &path, Some(token), None, None)
            .await?;
        Ok(d.dates)
    }

    pub async fn seats(&self, token: &str, concert: &str, date: &str) -> Result<Vec<Seat>, Fail> {
        let path = format!("/concerts/{concert}/dates/{date}/seats");
        let s: Seats = self
            .call("GET seats", Method::GET, &path, Some(token), None, None)
            .await?;
        Ok(s.seats)
    }

    pub async fn hold(
        &self,
        token: &str,
        user: &str,
        concert: &str,
        date: &str,
        seat: u16,
    ) -> Result<Reservation, Fail> {
        let body = json!({ "userId": user, "concertId": concert, "date": date, "seatNo": seat });
        self.call(
            "POST /reservations",
            Method::POST,
            "/reservations",
            Some(token),
            None,
            Some(body),
        )
        .await
    }

    pub async fn charge(
        &self,
        token: &str,
        user: &str,
        amount: u64,
        key: &str,
    ) -> Result<Balance, Fail> {
        let path = format!("/users/{user}/balance/charges");
        let body = json!({ "amount": amount });
        self.call(
            "POST charges",
            Method::POST,
            &path,
            Some(token),
            Some(key),
            Some(body),
        )
        .await
    }

    pub async fn pay(
        &self,
        token: &str,
        user: &str,
        reservation: &str,
        key: &str,
    ) -> Result<Payment, Fail> {
        let body = json!({ "userId": user, "reservationId": reservation });
        self.call(
            "POST /payments",
            Method::POST,
            "/payments",
            Some(token),
            Some(key),
            Some(body),
        )
        .await
    }
}

fn transport(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "transport: timeout".into()
    } else if e.is_connect() {
        "transport: connect".into()
    } else {
        "transport: other".into()
    }
}

fn problem_code(status: StatusCode, body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("code").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| format!("HTTP {}", status.as_u16()))
}

/// Retries a call that failed with 503 or without an answer (with the same Idempotency-Key,
/// where it has one), as a client is told to by `Retry-After`.
pub async fn with_retries<T, F, Fut>(attempts: u32, mut call: F) -> Result<T, Fail>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Fail>>,
{
    let mut last = None;
    for i in 0..attempts.max(1) {
        match call().await {
            Err(f) if f.retryable() && i + 1 < attempts => {
                last = Some(f);
                tokio::time::sleep(Duration::from_millis(100 << i.min(4))).await;
            }
            other => return other,
        }
    }
    Err(last.expect("at least one attempt"))
}
