//! The booking API as a client sees it: one method per endpoint, each answering an [`Answer`]
//! (status, headers and the whole body) or the transport's error. [`Client::request`] builds
//! any other request, for tests that send what no well-behaved client would.
//!
//! Nothing here asserts or retries: the tests decide what an answer must be, `tools/load`
//! times the calls and counts the refusals.

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

pub use reqwest;

/// The API at one base URL (`http://127.0.0.1:3000`).
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    /// A client with a pool of up to 64 idle connections, no overall timeout.
    pub fn new(base: &str) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true)
            .build()?;
        Ok(Self::with_http(base, http))
    }

    /// A client on an HTTP client built elsewhere (its own pool size, timeouts).
    pub fn with_http(base: &str, http: reqwest::Client) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Any request to `path`; see [`Request`].
    pub fn request(&self, method: Method, path: &str) -> Request {
        Request {
            inner: self.http.request(method, self.url(path)),
        }
    }

    /// `POST /queue/tokens`.
    pub async fn issue_token(&self, user: &str, concert: &str) -> Result<Answer, reqwest::Error> {
        self.request(Method::POST, "/queue/tokens")
            .json(&json!({ "userId": user, "concertId": concert }))
            .send()
            .await
    }

    /// `GET /queue/status`.
    pub async fn status(&self, token: &str) -> Result<Answer, reqwest::Error> {
        self.request(Method::GET, "/queue/status")
            .token(token)
            .send()
            .await
    }

    /// `GET /concerts/{concert}/dates`.
    pub async fn dates(&self, token: &str, concert: &str) -> Result<Answer, reqwest::Error> {
        self.request(Method::GET, &format!("/concerts/{concert}/dates"))
            .token(token)
            .send()
            .await
    }

    /// `GET /concerts/{concert}/dates/{date}/seats`.
    pub async fn seats(
        &self,
        token: &str,
        concert: &str,
        date: &str,
    ) -> Result<Answer, reqwest::Error> {
        self.request(
            Method::GET,
            &format!("/concerts/{concert}/dates/{date}/seats"),
        )
        .token(token)
        .send()
        .await
    }

    /// `POST /reservations`: a hold on one seat.
    pub async fn hold(
        &self,
        token: &str,
        user: &str,
        concert: &str,
        date: &str,
        seat: u16,
    ) -> Result<Answer, reqwest::Error> {
        self.request(Method::POST, "/reservations")
            .token(token)
            .json(&json!({ "userId": user, "concertId": concert, "date": date, "seatNo": seat }))
            .send()
            .await
    }

    /// `POST /reservations`: a hold on several seats of one date (`seatNos`), with an
    /// `Idempotency-Key` when `key` is given.
    pub async fn hold_seats(
        &self,
        token: &str,
        user: &str,
        concert: &str,
        date: &str,
        seats: &[u16],
        key: Option<&str>,
    ) -> Result<Answer, reqwest::Error> {
        self.request(Method::POST, "/reservations")
            .token(token)
            .key(key)
            .json(&json!({ "userId": user, "concertId": concert, "date": date, "seatNos": seats }))
            .send()
            .await
    }

    /// `DELETE /reservations/{id}`: the holder releases a live hold.
    pub async fn release(&self, token: &str, id: &str) -> Result<Answer, reqwest::Error> {
        self.request(Method::DELETE, &format!("/reservations/{id}"))
            .token(token)
            .send()
            .await
    }

    /// `POST /reservations/{id}/refund`, with an `Idempotency-Key` when `key` is given.
    pub async fn refund(
        &self,
        token: &str,
        id: &str,
        key: Option<&str>,
    ) -> Result<Answer, reqwest::Error> {
        self.request(Method::POST, &format!("/reservations/{id}/refund"))
            .token(token)
            .key(key)
            .send()
            .await
    }

    /// `GET /reservations/{id}`.
    pub async fn reservation(&self, token: &str, id: &str) -> Result<Answer, reqwest::Error> {
        self.request(Method::GET, &format!("/reservations/{id}"))
            .token(token)
            .send()
            .await
    }

    /// `POST /users/{user}/balance/charges`, with an `Idempotency-Key` when `key` is given.
    pub async fn charge(
        &self,
        token: &str,
        user: &str,
        amount: i64,
        key: Option<&str>,
    ) -> Result<Answer, reqwest::Error> {
        self.request(Method::POST, &format!("/users/{user}/balance/charges"))
            .token(token)
            .key(key)
            .json(&json!({ "amount": amount }))
            .send()
            .await
    }

    /// `GET /users/{user}/balance`.
    pub async fn balance(&self, token: &str, user: &str) -> Result<Answer, reqwest::Error> {
        self.request(Method::GET, &format!("/users/{user}/balance"))
            .token(token)
            .send()
            .await
    }

    /// `POST /payments`, with an `Idempotency-Key` when `key` is given.
    pub async fn pay(
        &self,
        token: &str,
        user: &str,
        reservation: &str,
        key: Option<&str>,
    ) -> Result<Answer, reqwest::Error> {
        self.request(Method::POST, "/payments")
            .token(token)
            .key(key)
            .json(&json!({ "userId": user, "reservationId": reservation }))
            .send()
            .await
    }

    /// `GET /users/{user}/reservations` as `user`: a page of `limit` (the server's default
    /// when None), after `cursor` (a page's `nextCursor`).
    pub async fn reservations(
        &self,
        user: &str,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<Answer, reqwest::Error> {
        let mut query = Vec::new();
        if let Some(limit) = limit {
            query.push(format!("limit={limit}"));
        }
        if let Some(cursor) = cursor {
            query.push(format!("cursor={cursor}"));
        }
        let query = if query.is_empty() {
            String::new()
        } else {
            format!("?{}", query.join("&"))
        };
        self.request(Method::GET, &format!("/users/{user}/reservations{query}"))
            .as_buyer(user)
            .send()
            .await
    }

    /// `GET /reservations/{id}/tickets` as `user`.
    pub async fn tickets(&self, user: &str, id: &str) -> Result<Answer, reqwest::Error> {
        self.request(Method::GET, &format!("/reservations/{id}/tickets"))
            .as_buyer(user)
            .send()
            .await
    }

    /// `GET /.well-known/ticket-keys.json`: public.
    pub async fn ticket_keys(&self) -> Result<Answer, reqwest::Error> {
        self.request(Method::GET, "/.well-known/ticket-keys.json")
            .send()
            .await
    }

    /// `POST /admin/checkins` with the operator's token: the door scans `code`.
    pub async fn check_in(&self, admin: &str, code: &str) -> Result<Answer, reqwest::Error> {
        self.request(Method::POST, "/admin/checkins")
            .token(admin)
            .json(&json!({ "code": code }))
            .send()
            .await
    }

    /// `PUT /admin/concerts/{concertId}` with the operator's token.
    pub async fn put_concert(
        &self,
        admin: &str,
        concert: &str,
        body: &Value,
    ) -> Result<Answer, reqwest::Error> {
        self.request(Method::PUT, &format!("/admin/concerts/{concert}"))
            .token(admin)
            .json(body)
            .send()
            .await
    }

    /// `GET /admin/concerts/{concertId}` with the operator's token.
    pub async fn admin_concert(
        &self,
        admin: &str,
        concert: &str,
    ) -> Result<Answer, reqwest::Error> {
        self.request(Method::GET, &format!("/admin/concerts/{concert}"))
            .token(admin)
            .send()
            .await
    }

    /// `PATCH /admin/concerts/{concertId}/queue` with the operator's token.
    pub async fn patch_queue(
        &self,
        admin: &str,
        concert: &str,
        body: &Value,
    ) -> Result<Answer, reqwest::Error> {
        self.request(Method::PATCH, &format!("/admin/concerts/{concert}/queue"))
            .token(admin)
            .json(body)
            .send()
            .await
    }
}

/// A request being built: a token, an `Idempotency-Key`, any header, any body.
pub struct Request {
    inner: reqwest::RequestBuilder,
}

impl Request {
    /// `Authorization: Bearer {token}`.
    pub fn token(self, token: &str) -> Self {
        Self {
            inner: self.inner.bearer_auth(token),
        }
    }

    /// STAND-IN until sign-in lands on main (then signing in as `user` takes its place): the
    /// server's stand-in reads the buyer from this header.
    pub fn as_buyer(self, user: &str) -> Self {
        self.header("X-Stand-In-Buyer", user)
    }

    /// `Idempotency-Key: {key}` when there is one.
    pub fn key(self, key: Option<&str>) -> Self {
        match key {
            Some(k) => self.header("Idempotency-Key", k),
            None => self,
        }
    }

    /// One more header (sent as well as any earlier one of the same name).
    pub fn header<K, V>(self, name: K, value: V) -> Self
    where
        HeaderName: TryFrom<K>,
        <HeaderName as TryFrom<K>>::Error: Into<http::Error>,
        HeaderValue: TryFrom<V>,
        <HeaderValue as TryFrom<V>>::Error: Into<http::Error>,
    {
        Self {
            inner: self.inner.header(name, value),
        }
    }

    /// A JSON body.
    pub fn json(self, body: &Value) -> Self {
        self.body(body.to_string())
    }

    /// A body sent as it is, labelled `application/json` (it need not be JSON).
    pub fn body(self, body: impl Into<reqwest::Body>) -> Self {
        Self {
            inner: self
                .inner
                .header(CONTENT_TYPE, "application/json")
                .body(body),
        }
    }

    /// Sends it and reads the whole answer.
    pub async fn send(self) -> Result<Answer, reqwest::Error> {
        let res = self.inner.send().await?;
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.bytes().await?;
        Ok(Answer {
            status,
            headers,
            body,
        })
    }
}

/// One answer, read whole.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// A header's value, when it is there and is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as JSON (a `Value` or any type it deserializes into).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Whether the body is a problem (`application/problem+json`).
    pub fn is_problem(&self) -> bool {
        self.header("content-type") == Some("application/problem+json")
    }

    /// The problem's `code`, when the body is JSON with one.
    pub fn code(&self) -> Option<String> {
        self.json::<Value>()
            .ok()
            .and_then(|v| v.get("code").and_then(Value::as_str).map(str::to_owned))
    }
}
