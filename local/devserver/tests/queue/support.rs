//! The helpers of these tests: the app-bound ones as methods of `TestApp`.

use super::*;

pub(crate) fn token_of(view: &Value) -> String {
    view["token"].as_str().expect("a token").to_owned()
}

pub(crate) fn assert_waiting(view: &Value, position: u64) {
    assert_eq!(view["status"], "WAITING", "{view}");
    assert_eq!(view["position"], position, "{view}");
    assert!(view["activeUntil"].is_null(), "{view}");
    let hint = view["pollAfterSeconds"].as_u64();
    assert!(hint.is_some_and(|h| h >= 1), "{view}");
}

pub(crate) fn assert_active(view: &Value) {
    assert_eq!(view["status"], "ACTIVE", "{view}");
    assert_eq!(view["position"], 0, "{view}");
    assert!(view["pollAfterSeconds"].is_null(), "{view}");
    active_until(view);
}

/// `activeUntil`, which must be RFC 3339 UTC in the contract's shape `2026-12-24T19:00:00Z`.
pub(crate) fn active_until(view: &Value) -> DateTime<Utc> {
    let text = view["activeUntil"].as_str().expect("activeUntil is set");
    assert!(
        text.len() == 20 && text.ends_with('Z') && text.as_bytes()[10] == b'T',
        "activeUntil {text:?} is not YYYY-MM-DDTHH:MM:SSZ"
    );
    DateTime::parse_from_rfc3339(text)
        .expect("activeUntil is RFC 3339")
        .with_timezone(&Utc)
}

impl TestApp {
    pub(crate) async fn issue(&self, user: &str) -> (StatusCode, Value) {
        let res = self.issue_token(user).await;
        let status = res.status();
        (status, res.json().expect("a JSON body"))
    }

    /// Issues a token that must be new (201) and returns its view.
    pub(crate) async fn issue_new(&self, user: &str) -> Value {
        let (status, body) = self.issue(user).await;
        assert_eq!(
            status,
            StatusCode::CREATED,
            "a new token for {user}: {body}"
        );
        body
    }

    /// Polls a token that must be live (200) and returns its view.
    pub(crate) async fn poll(&self, token: &str) -> Value {
        let res = self.status(token).await;
        let status = res.status();
        let body: Value = res.json().expect("a JSON body");
        assert_eq!(status, StatusCode::OK, "a live token: {body}");
        body
    }

    /// Polls every `every` until `done` holds or `within` has passed (then panics).
    pub(crate) async fn poll_until(
        &self,
        token: &str,
        every: Duration,
        within: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let view = self.poll(token).await;
            if done(&view) {
                return view;
            }
            assert!(
                Instant::now() < deadline,
                "no change within {within:?}: {view}"
            );
            tokio::time::sleep(every).await;
        }
    }

    /// Every key this app has in Redis.
    pub(crate) async fn redis_keys(&self) -> Vec<String> {
        let pattern = format!("{{{}:*", self.state.redis.prefix());
        self.state
            .redis
            .run(|mut c| async move {
                redis::cmd("KEYS")
                    .arg(pattern)
                    .query_async::<Vec<String>>(&mut c)
                    .await
            })
            .await
            .expect("Redis answers")
    }

    /// A refused issue request: 400 VALIDATION_FAILED naming `field`, and nothing written to Redis
    /// under this app's prefix (a join writes nothing else anywhere).
    pub(crate) async fn assert_refused(&self, body: String, field: &str) {
        let shown: String = body.chars().take(80).collect();
        let res = self.post_raw("/queue/tokens", None, body).await;
        let problem = assert_problem(res, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            detail.contains(field),
            "the detail {detail:?} names {field} (body {shown})"
        );
        assert_eq!(
            self.redis_keys().await,
            Vec::<String>::new(),
            "Redis after {shown}"
        );
    }
}

/// A WAITING answer before the opening: no position, the opening shown, a hint to poll by.
pub(crate) fn assert_pre_queue(view: &Value) {
    assert_eq!(view["status"], "WAITING", "{view}");
    assert!(view["position"].is_null(), "{view}");
    assert!(view["opensAt"].is_string(), "{view}");
    assert!(view["activeUntil"].is_null(), "{view}");
    assert!(
        view["pollAfterSeconds"].as_u64().is_some_and(|h| h >= 1),
        "{view}"
    );
}

impl TestApp {
    /// `PATCH /admin/concerts/{concert}/queue` on this app's concert; must answer 200.
    pub(crate) async fn control(&self, body: Value) -> Value {
        let res = self
            .api
            .patch_queue(common::ADMIN_TOKEN, &self.concert, &body)
            .await
            .expect("the server answers");
        let (status, view) = common::answer(res).await;
        assert_eq!(status, StatusCode::OK, "{body}: {view}");
        view
    }

    /// Sets this app's concert's opening (`PUT /admin/concerts/{concert}`, its catalog as
    /// seeded); must answer 200.
    pub(crate) async fn open_at(&self, at: DateTime<Utc>) {
        let dates: Vec<Value> = self
            .dates
            .iter()
            .map(|d| {
                json!({ "date": d, "sections": [
                    { "name": "General", "fromSeat": 1, "toSeat": 50, "price": 50_000 }
                ]})
            })
            .collect();
        let body = json!({
            "name": "On sale",
            "opensAt": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "dates": dates,
        });
        let res = self
            .api
            .put_concert(common::ADMIN_TOKEN, &self.concert, &body)
            .await
            .expect("the server answers");
        let (status, view) = common::answer(res).await;
        assert_eq!(status, StatusCode::OK, "{view}");
    }

    /// Makes the line's copy of the controls due to be confirmed from DynamoDB (as it is
    /// 10 s after it last was).
    pub(crate) async fn age_mirror(&self) {
        let keys = LineKeys::new(
            self.state.redis.prefix(),
            &ConcertId::parse(&self.concert).unwrap(),
        );
        let meta = keys.meta().to_owned();
        let _: i64 = self
            .state
            .redis
            .run(|mut c| {
                let meta = meta.clone();
                async move {
                    redis::cmd("HSET")
                        .arg(meta)
                        .arg("ck")
                        .arg(0)
                        .query_async(&mut c)
                        .await
                }
            })
            .await
            .expect("Redis answers");
    }

    /// Deletes this app's concert's line from Redis (as a Redis restarting empty would), and
    /// only it: the tests share one Redis.
    pub(crate) async fn drop_line(&self) {
        let keys = LineKeys::new(
            self.state.redis.prefix(),
            &ConcertId::parse(&self.concert).unwrap(),
        );
        let _: i64 = self
            .state
            .redis
            .run(
                |mut c| async move { redis::cmd("DEL").arg(&keys.0[..]).query_async(&mut c).await },
            )
            .await
            .expect("Redis answers");
    }
}

impl TestApp {
    /// A new token of a new user, as its token.
    pub(crate) async fn issue_new_owned(&self) -> String {
        token_of(&self.issue_new(&unique("u")).await)
    }
}

/// The audit lines (target `audit`) of the servers of this test binary, in the functions'
/// JSON shape (`shared::telemetry::json_lines`): a subscriber of that target alone, installed
/// once for the binary by [`capture_audit`].
static AUDIT: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

struct Capture;

impl std::io::Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        AUDIT.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// From now on, this binary's audit lines are kept for [`audit_lines_of`].
pub(crate) fn capture_audit() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        use tracing_subscriber::prelude::*;
        let only_audit = tracing_subscriber::filter::Targets::new()
            .with_target(shared::telemetry::AUDIT, tracing::Level::INFO);
        tracing_subscriber::registry()
            .with(only_audit)
            .with(shared::telemetry::json_lines(|| Capture))
            .try_init()
            .expect("no other subscriber in the queue tests");
    });
}

/// The audit lines about `user` since [`capture_audit`], each a JSON object.
pub(crate) fn audit_lines_of(user: &str) -> Vec<Value> {
    let text = String::from_utf8(AUDIT.lock().unwrap().clone()).expect("UTF-8 lines");
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("each line is JSON"))
        .filter(|l| l["fields"]["userId"] == user)
        .collect()
}
