//! The API as a client sees it, over HTTP with `api-client`: one call per operation, each timed
//! into [`Stats`] under its endpoint's name. At most `connections` requests are in flight;
//! latency is measured from the moment a request may go (client-side queueing is not counted).
//! Every user signs in ([`Api::sign_in`], timed as [`SIGN_IN`]); each call then goes with that
//! user's access token, which the client holds and renews a minute before it expires.

use std::sync::Arc;
use std::time::{Duration, Instant};

use api_client::{reqwest, Answer, Client};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use tokio::sync::Semaphore;

use crate::stats::Stats;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Token {
    pub token: String,
    pub status: String,
    pub position: u64,
    /// When to poll next, while WAITING.
    #[serde(default)]
    pub poll_after_seconds: Option<u64>,
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

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Refund {
    pub reservation_id: String,
    pub amount: u64,
    pub balance: u64,
}

/// The reservation a release answers, as far as the load reads it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Released {
    pub reservation_id: String,
    pub status: String,
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

/// The sign-in's row in [`Stats`].
pub const SIGN_IN: &str = "POST /local/sign-in";

#[derive(Clone)]
pub struct Api {
    client: Client,
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
            client: Client::with_http(base, http).with_sign_in(),
            slots: Arc::new(Semaphore::new(connections.max(1))),
            stats: Arc::new(Stats::default()),
        })
    }

    /// A connection slot: at most `connections` calls are in flight.
    async fn slot(&self) -> tokio::sync::SemaphorePermit<'_> {
        self.slots
            .acquire()
            .await
            .expect("the semaphore is never closed")
    }

    /// Runs one call once a connection slot is free, timed from then, into `endpoint`'s stats.
    async fn call<T: DeserializeOwned>(
        &self,
        endpoint: &'static str,
        call: impl std::future::Future<Output = Result<Answer, reqwest::Error>>,
    ) -> Result<T, Fail> {
        let _slot = self.slot().await;
        let sent = Instant::now();
        let result = match call.await {
            Err(e) => Err(Fail {
                status: None,
                code: transport(&e),
            }),
            Ok(answer) if answer.status.is_success() => answer.json::<T>().map_err(|e| Fail {
                status: Some(answer.status.as_u16()),
                code: format!("bad body: {e}"),
            }),
            Ok(answer) => Err(Fail {
                status: Some(answer.status.as_u16()),
                code: problem_code(&answer),
            }),
        };
        self.stats.record(
            endpoint,
            sent,
            result.as_ref().err().map(|f| f.code.clone()),
        );
        result
    }

    /// Signs `user` in (the local issuer's `POST /local/sign-in`): one round trip, timed as
    /// [`SIGN_IN`]. The client keeps the access token for the user's calls; signing in again
    /// while it holds a live one is a no-op, and is not timed.
    pub async fn sign_in(&self, user: &str) -> Result<(), Fail> {
        let _slot = self.slot().await;
        let sent = Instant::now();
        let result = match self.client.access_token(user).await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(Fail {
                status: None,
                code: "sign-in refused".into(),
            }),
            Err(e) => Err(Fail {
                status: None,
                code: transport(&e),
            }),
        };
        self.stats
            .record(SIGN_IN, sent, result.as_ref().err().map(|f| f.code.clone()));
        result
    }

    /// `user`'s access token (signing in if the client holds none), for requests built by hand.
    pub async fn access_token(&self, user: &str) -> anyhow::Result<String> {
        self.client
            .access_token(user)
            .await?
            .ok_or_else(|| anyhow::anyhow!("the server refused to sign {user} in"))
    }

    pub async fn issue(&self, user: &str, concert: &str) -> Result<Token, Fail> {
        self.call("POST /queue/tokens", self.client.issue_token(user, concert))
            .await
    }

    pub async fn status(&self, token: &str) -> Result<Token, Fail> {
        self.call("GET /queue/status", self.client.status(token))
            .await
    }

    pub async fn dates(&self, token: &str, concert: &str) -> Result<Vec<DateAvailability>, Fail> {
        let d: Dates = self
            .call("GET dates", self.client.dates(token, concert))
            .await?;
        Ok(d.dates)
    }

    pub async fn seats(&self, token: &str, concert: &str, date: &str) -> Result<Vec<Seat>, Fail> {
        let s: Seats = self
            .call("GET seats", self.client.seats(token, concert, date))
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
        self.call(
            "POST /reservations",
            self.client.hold(token, user, concert, date, seat),
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
        let amount = i64::try_from(amount).map_err(|_| Fail {
            status: None,
            code: format!("amount {amount} is past i64"),
        })?;
        self.call(
            "POST charges",
            self.client.charge(token, user, amount, Some(key)),
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
        self.call(
            "POST /payments",
            self.client.pay(token, user, reservation, Some(key)),
        )
        .await
    }
}

impl Api {
    /// `DELETE /reservations/{id}`: the holder lets the seat go.
    pub async fn release(&self, token: &str, reservation: &str) -> Result<Released, Fail> {
        self.call(
            "DELETE /reservations",
            self.client.release(token, reservation),
        )
        .await
    }

    pub async fn refund(&self, token: &str, reservation: &str, key: &str) -> Result<Refund, Fail> {
        self.call(
            "POST refund",
            self.client.refund(token, reservation, Some(key)),
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

fn problem_code(answer: &Answer) -> String {
    answer
        .code()
        .unwrap_or_else(|| format!("HTTP {}", answer.status.as_u16()))
}

/// Retries a call that failed with 503 or without an answer (with the same Idempotency-Key,
/// where it has one), as a client is told to by `Retry-After`.
pub async fn with_retries<T, F, Fut>(attempts: u32, call: F) -> Result<T, Fail>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Fail>>,
{
    retrying(attempts, Fail::retryable, call).await
}

/// For a keyed call: also resent after a 500, whose outcome the server could not learn (it
/// may have committed), as the contract tells a client: the same key gets the first answer.
pub async fn with_resends<T, F, Fut>(attempts: u32, call: F) -> Result<T, Fail>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Fail>>,
{
    retrying(
        attempts,
        |f: &Fail| f.retryable() || f.status == Some(500),
        call,
    )
    .await
}

async fn retrying<T, F, Fut>(
    attempts: u32,
    again: impl Fn(&Fail) -> bool,
    mut call: F,
) -> Result<T, Fail>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Fail>>,
{
    let mut last = None;
    for i in 0..attempts.max(1) {
        match call().await {
            Err(f) if again(&f) && i + 1 < attempts => {
                last = Some(f);
                tokio::time::sleep(Duration::from_millis(100 << i.min(4))).await;
            }
            other => return other,
        }
    }
    Err(last.expect("at least one attempt"))
}
