//! The booking API as a client sees it: one method per endpoint, each answering an [`Answer`]
//! (status, headers and the whole body) or the transport's error. [`Client::request`] builds
//! any other request, for tests that send what no well-behaved client would.
//!
//! Nothing here asserts or retries: the tests decide what an answer must be, `tools/load`
//! times the calls and counts the refusals.
//!
//! Buyers sign in. A client made with [`Client::signing_in`] sends every buyer call with an
//! access token (`Authorization: Bearer`), signing in through the local server's
//! `POST /local/sign-in` once per user (again when the token is near its end): as the user the
//! call names (a method's `user`, or the body's `userId`), else as the owner of the queue token
//! it carries (learnt from the token answers the process's clients received), else as a signed-in
//! stranger of its own. A request can say otherwise
//! ([`Request::as_user`], [`Request::access_token`], [`Request::anonymous`]). The queue token
//! travels in `Queue-Token`; the operator's token in `Authorization` ([`Request::operator`]).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

pub use reqwest;

/// The API at one base URL (`http://127.0.0.1:3000`).
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    /// Present when this client signs its buyers in.
    sign_ins: Option<Arc<SignIns>>,
}

/// Whose each queue token is, as the token answers said, for every client of this process: a
/// token is one user's whichever server or client it is sent to next.
static OWNERS: LazyLock<Mutex<HashMap<String, String>>> = LazyLock::new(Default::default);

/// What a signing-in client remembers: each user's access token from its server's issuer.
struct SignIns {
    access: Mutex<HashMap<String, Access>>,
    /// Who a call that names no user and carries no known queue token signs in as.
    stranger: String,
}

#[derive(Clone)]
struct Access {
    token: String,
    /// Signed in again from then on: a minute before it expires.
    renew_at: Instant,
}

/// The user a stranger signs in as: unique per client.
fn stranger() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "stranger-{:x}-{:x}",
        std::process::id(),
        nanos & 0xffff_ffff_ffff
    )
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
            sign_ins: None,
        }
    }

    /// A client that signs its buyers in (see the module's doc), with [`Client::new`]'s pool.
    pub fn signing_in(base: &str) -> Result<Self, reqwest::Error> {
        Ok(Self::new(base)?.with_sign_in())
    }

    /// This client, signing its buyers in from now on.
    pub fn with_sign_in(mut self) -> Self {
        self.sign_ins = Some(Arc::new(SignIns {
            access: Mutex::new(HashMap::new()),
            stranger: stranger(),
        }));
        self
    }

    /// `POST /local/sign-in` as `user`: the answer as it is.
    pub async fn sign_in(&self, user: &str) -> Result<Answer, reqwest::Error> {
        let res = self
            .http
            .post(self.url("/local/sign-in"))
            .header(CONTENT_TYPE, "application/json")
            .body(json!({ "username": user }).to_string())
            .send()
            .await?;
        Answer::read(res).await
    }

    /// `user`'s access token: the one this client holds, or a new sign-in. `None` when the
    /// server refused the sign-in (the call then goes without one, and is answered 401).
    pub async fn access_token(&self, user: &str) -> Result<Option<String>, reqwest::Error> {
        let Some(sign_ins) = &self.sign_ins else {
            return Ok(None);
        };
        let held = sign_ins
            .access
            .lock()
            .expect("not poisoned")
            .get(user)
            .cloned();
        if let Some(access) = held.filter(|a| Instant::now() < a.renew_at) {
            return Ok(Some(access.token));
        }
        let answer = self.sign_in(user).await?;
        let Ok(body) = answer.json::<Value>() else {
            return Ok(None);
        };
        let (Some(token), Some(expires_in)) =
            (body["accessToken"].as_str(), body["expiresIn"].as_u64())
        else {
            return Ok(None);
        };
        let access = Access {
            token: token.to_owned(),
            renew_at: Instant::now() + Duration::from_secs(expires_in.saturating_sub(60)),
        };
        sign_ins
            .access
            .lock()
            .expect("not poisoned")
            .insert(user.to_owned(), access);
        Ok(Some(token.to_owned()))
    }

    /// Whose this queue token is, if this client issued it.
    pub fn owner_of(&self, queue_token: &str) -> Option<String> {
        self.sign_ins.as_ref()?;
        let owners = OWNERS.lock().expect("not poisoned");
        owners.get(queue_token).cloned()
    }

    /// Remembers whose the queue token in a token answer (`token` and `userId`) is.
    fn learn_owner(&self, answer: &Answer) {
        if self.sign_ins.is_none() {
            return;
        }
        if let Ok(body) = answer.json::<Value>() {
            if let (Some(token), Some(user)) = (body["token"].as_str(), body["userId"].as_str()) {
                OWNERS
                    .lock()
                    .expect("not poisoned")
                    .insert(token.to_owned(), user.to_owned());
            }
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
            client: self.clone(),
            who: Who::Default,
            user: None,
            named_in_body: None,
            queue_token: None,
        }
    }

    /// `POST /queue/tokens`, signed in as `user`, naming them in the body.
    pub async fn issue_token(&self, user: &str, concert: &str) -> Result<Answer, reqwest::Error> {
        self.request(Method::POST, "/queue/tokens")
            .as_user(user)
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
            .as_user(user)
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
            .as_user(user)
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
            .as_user(user)
            .key(key)
            .json(&json!({ "amount": amount }))
            .send()
            .await
    }

    /// `GET /users/{user}/balance`.
    pub async fn balance(&self, token: &str, user: &str) -> Result<Answer, reqwest::Error> {
        self.request(Method::GET, &format!("/users/{user}/balance"))
            .token(token)
            .as_user(user)
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
            .as_user(user)
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
            .as_user(user)
            .send()
            .await
    }

    /// `GET /reservations/{id}/tickets` as `user`.
    pub async fn tickets(&self, user: &str, id: &str) -> Result<Answer, reqwest::Error> {
        self.request(Method::GET, &format!("/reservations/{id}/tickets"))
            .as_user(user)
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
            .operator(admin)
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
            .operator(admin)
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
            .operator(admin)
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
            .operator(admin)
            .json(body)
            .send()
            .await
    }
}

/// A request being built: who sends it, a queue token, an `Idempotency-Key`, any header, any
/// body.
pub struct Request {
    inner: reqwest::RequestBuilder,
    client: Client,
    who: Who,
    user: Option<String>,
    named_in_body: Option<String>,
    queue_token: Option<String>,
}

/// What goes in a request's `Authorization`.
enum Who {
    /// A signing-in client's choice (see the module's doc); nothing for another client.
    Default,
    /// Exactly this header value, or none at all.
    Raw(Option<String>),
}

impl Request {
    /// `Queue-Token: {token}`.
    pub fn token(mut self, token: &str) -> Self {
        self.queue_token = Some(token.to_owned());
        self.header("Queue-Token", token)
    }

    /// Signed in as `user` (a signing-in client).
    pub fn as_user(mut self, user: &str) -> Self {
        self.user = Some(user.to_owned());
        self
    }

    /// `Authorization: Bearer {token}`, this access token as it is (signed in or not).
    pub fn access_token(mut self, token: &str) -> Self {
        self.who = Who::Raw(Some(format!("Bearer {token}")));
        self
    }

    /// No `Authorization` at all.
    pub fn anonymous(mut self) -> Self {
        self.who = Who::Raw(None);
        self
    }

    /// `Authorization: Bearer {token}` with the operator's token (the `/admin` routes).
    pub fn operator(self, token: &str) -> Self {
        self.access_token(token)
    }

    /// `Idempotency-Key: {key}` when there is one.
    pub fn key(self, key: Option<&str>) -> Self {
        match key {
            Some(k) => self.header("Idempotency-Key", k),
            None => self,
        }
    }

    /// One more header (sent as well as any earlier one of the same name).
    pub fn header<K, V>(mut self, name: K, value: V) -> Self
    where
        HeaderName: TryFrom<K>,
        <HeaderName as TryFrom<K>>::Error: Into<http::Error>,
        HeaderValue: TryFrom<V>,
        <HeaderValue as TryFrom<V>>::Error: Into<http::Error>,
    {
        self.inner = self.inner.header(name, value);
        self
    }

    /// A JSON body. One that names a `userId` is sent signed in as that user, unless the
    /// request says who it is.
    pub fn json(mut self, body: &Value) -> Self {
        if let Some(user) = body.get("userId").and_then(Value::as_str) {
            self.named_in_body = Some(user.to_owned());
        }
        self.body(body.to_string())
    }

    /// A body sent as it is, labelled `application/json` (it need not be JSON).
    pub fn body(mut self, body: impl Into<reqwest::Body>) -> Self {
        self.inner = self
            .inner
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        self
    }

    /// The `Authorization` value this request goes with.
    async fn authorization(&self) -> Result<Option<String>, reqwest::Error> {
        let sign_ins = match (&self.who, &self.client.sign_ins) {
            (Who::Raw(value), _) => return Ok(value.clone()),
            (Who::Default, None) => return Ok(None),
            (Who::Default, Some(sign_ins)) => sign_ins,
        };
        let user = self
            .user
            .clone()
            .or_else(|| self.named_in_body.clone())
            .or_else(|| {
                let token = self.queue_token.as_deref()?;
                self.client.owner_of(token)
            })
            .unwrap_or_else(|| sign_ins.stranger.clone());
        // A name the issuer refuses (not a valid userId) goes as the stranger, so the server
        // answers what the call itself got wrong.
        let access = match self.client.access_token(&user).await? {
            Some(token) => Some(token),
            None => self.client.access_token(&sign_ins.stranger).await?,
        };
        Ok(access.map(|token| format!("Bearer {token}")))
    }

    /// Sends it (signing in first where needed) and reads the whole answer.
    pub async fn send(self) -> Result<Answer, reqwest::Error> {
        let authorization = self.authorization().await?;
        let client = self.client;
        let mut inner = self.inner;
        if let Some(value) = authorization {
            inner = inner.header(AUTHORIZATION, value);
        }
        let answer = Answer::read(inner.send().await?).await?;
        if answer.status().is_success() {
            client.learn_owner(&answer);
        }
        Ok(answer)
    }
}

impl Answer {
    /// A response, read whole.
    async fn read(res: reqwest::Response) -> Result<Self, reqwest::Error> {
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
