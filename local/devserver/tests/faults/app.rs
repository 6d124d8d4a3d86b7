//! The real app on a test's own stack, and its calls over HTTP (through `api-client`), each timed.

use super::*;

pub(crate) fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

pub(crate) struct App {
    pub(crate) api: api_client::Client,
    pub(crate) state: Arc<AppState>,
    pub(crate) concert: String,
    pub(crate) dates: Vec<String>,
    pub(crate) seats_per_date: u16,
}

/// One answer, timed.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) code: String,
    pub(crate) retry_after: bool,
    pub(crate) problem: bool,
    pub(crate) body: Value,
    pub(crate) took: Duration,
}

impl Answer {
    pub(crate) fn is_unavailable(&self) -> bool {
        self.status == 503 && self.code == "SERVICE_UNAVAILABLE" && self.retry_after && self.problem
    }
}

/// A DynamoDB client as the app builds it (timeouts and retries from `settings`), pinned to the
/// stack's DynamoDB Local.
pub(crate) async fn dynamodb_client(
    stack: &Stack,
    settings: &Settings,
) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::from_conf(
        AppState::dynamodb_config(settings)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("local", "local", None, None, "faults"))
            .endpoint_url(stack.dynamodb_url())
            .build(),
    )
}

/// The app on `stack`'s stores: settings from these values only (never the environment, so
/// `make test`'s do not leak in), the production SDK timeouts and retries, and a DynamoDB
/// client pinned to the stack's endpoint. Tables created, a concert seeded with two dates.
pub(crate) async fn app_on(stack: &Stack, seats_per_date: u16, overrides: &[(&str, &str)]) -> App {
    let mut map: HashMap<String, String> = HashMap::from([
        ("REDIS_URL".into(), stack.redis_url()),
        ("REDIS_KEY_PREFIX".into(), unique("f")),
        ("TABLE_NAME".into(), "faults".into()),
        (
            "RESERVATIONS_TABLE_NAME".into(),
            "faults-reservations".into(),
        ),
        ("STORE_TIMEOUT_MS".into(), STORE_TIMEOUT_MS.into()),
        // A burst's holders each hold several seats of the concert: the per-buyer limit is
        // not under test here (tests/holds/limit.rs), the fault is.
        ("MAX_SEATS_PER_USER".into(), "20".into()),
    ]);
    for (k, v) in overrides {
        map.insert(k.to_string(), v.to_string());
    }
    let settings = Settings::from_lookup(|k| map.get(k).cloned()).expect("settings are valid");
    let client = dynamodb_client(stack, &settings).await;
    let state = Arc::new(AppState::with_dynamodb(settings, client).expect("state builds"));
    // Setup is not under test: it gets a patient client, for a DynamoDB Local just started
    // (its first writes to a data folder can take seconds).
    let mut patient = state.settings.clone();
    patient.store_timeout = Duration::from_secs(20);
    let setup = Db::new(
        dynamodb_client(stack, &patient).await,
        patient.table_name.clone(),
        patient.reservations_table_name.clone(),
    );
    schema::create_tables(&setup)
        .await
        .expect("the tables are created");
    let concert = unique("concert");
    let today = ConcertDate::today_utc().naive();
    let dates: Vec<ConcertDate> = (1..=2)
        .map(|d| ConcertDate::from_naive(today + chrono::Days::new(d)))
        .collect();
    shared::flows::catalog::seed(
        &setup,
        &ConcertId::parse(&concert).unwrap(),
        &dates,
        seats_per_date,
        Won::new(PRICE),
    )
    .await
    .expect("the catalog seeds");
    let app = devserver::app(state.clone()).expect("the router builds from template.yaml");
    let addr = devserver::server::spawn(app, 0)
        .await
        .expect("the server binds");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        // Far past BOUND: a hang shows as a slow answer, not as a stuck test.
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    App {
        api: api_client::Client::with_http(&format!("http://{addr}"), http).with_sign_in(),
        state,
        concert,
        dates: dates.iter().map(|d| d.to_string()).collect(),
        seats_per_date,
    }
}

impl App {
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut req = self.api.request(method, path).key(key);
        if let Some(t) = token {
            req = req.token(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let t0 = Instant::now();
        let res = req.send().await.expect("the app answers");
        let took = t0.elapsed();
        let body: Value = res.json().unwrap_or(Value::Null);
        Answer {
            status: res.status().as_u16(),
            code: body["code"].as_str().unwrap_or_default().to_owned(),
            retry_after: res.headers().contains_key("retry-after"),
            problem: res.is_problem(),
            body,
            took,
        }
    }

    pub(crate) async fn issue(&self, user: &str) -> Answer {
        self.send(
            Method::POST,
            "/queue/tokens",
            None,
            None,
            Some(json!({"userId": user, "concertId": self.concert})),
        )
        .await
    }

    /// A token for the user (new or the live one), asserted issued.
    pub(crate) async fn token(&self, user: &str) -> String {
        // Setup, not under test: again while it answers 503, as a client told `Retry-After`.
        let a = until_ok_or_refused(|| self.issue(user)).await;
        assert!(matches!(a.status, 200 | 201), "token for {user}: {a:?}");
        a.body["token"].as_str().unwrap().to_owned()
    }

    pub(crate) async fn status(&self, token: &str) -> Answer {
        self.send(Method::GET, "/queue/status", Some(token), None, None)
            .await
    }

    /// Seat `n` of the app's seats, counted over both dates.
    pub(crate) fn seat(&self, n: usize) -> (String, u16) {
        let per = usize::from(self.seats_per_date);
        (self.dates[n / per].clone(), (n % per) as u16 + 1)
    }

    pub(crate) async fn hold(&self, token: &str, user: &str, n: usize) -> Answer {
        let (date, seat) = self.seat(n);
        self.send(
            Method::POST,
            "/reservations",
            Some(token),
            None,
            Some(json!({"userId": user, "concertId": self.concert, "date": date, "seatNo": seat})),
        )
        .await
    }

    pub(crate) async fn charge(&self, token: &str, user: &str, amount: u64, key: &str) -> Answer {
        self.send(
            Method::POST,
            &format!("/users/{user}/balance/charges"),
            Some(token),
            Some(key),
            Some(json!({"amount": amount})),
        )
        .await
    }

    pub(crate) async fn balance(&self, token: &str, user: &str) -> Answer {
        self.send(
            Method::GET,
            &format!("/users/{user}/balance"),
            Some(token),
            None,
            None,
        )
        .await
    }

    pub(crate) async fn pay(
        &self,
        token: &str,
        user: &str,
        reservation: &str,
        key: &str,
    ) -> Answer {
        self.send(
            Method::POST,
            "/payments",
            Some(token),
            Some(key),
            Some(json!({"userId": user, "reservationId": reservation})),
        )
        .await
    }

    pub(crate) async fn reservation(&self, token: &str, id: &str) -> Answer {
        self.send(
            Method::GET,
            &format!("/reservations/{id}"),
            Some(token),
            None,
            None,
        )
        .await
    }

    pub(crate) async fn dates_of(&self, token: &str) -> Answer {
        self.send(
            Method::GET,
            &format!("/concerts/{}/dates", self.concert),
            Some(token),
            None,
            None,
        )
        .await
    }

    pub(crate) async fn seats_of(&self, token: &str) -> Answer {
        self.send(
            Method::GET,
            &format!("/concerts/{}/dates/{}/seats", self.concert, self.dates[0]),
            Some(token),
            None,
            None,
        )
        .await
    }
}

/// A user with a token, some money and a held seat to pay for.
pub(crate) struct Customer {
    pub(crate) user: String,
    pub(crate) token: String,
    pub(crate) held: String,
}

/// `n` customers, each ACTIVE, charged 1,000,000 won and holding seat `first_seat + i`.
pub(crate) async fn customers(app: &App, n: usize, first_seat: usize) -> Vec<Customer> {
    let mut out = Vec::new();
    for i in 0..n {
        let user = unique("u");
        // Setup, not under test, on a store timeout of 500 ms: each call again while it
        // answers 503, as a client told `Retry-After` would (a charge with the same key).
        let token = app.token(&user).await;
        let key = unique("k");
        let charged = until_ok_or_refused(|| app.charge(&token, &user, 1_000_000, &key)).await;
        assert_eq!(charged.status, 200, "{charged:?}");
        let seat = first_seat + i;
        let held = until_ok_or_refused(|| app.hold(&token, &user, seat)).await;
        let held = match held.status {
            201 => held.body["reservationId"].as_str().unwrap().to_owned(),
            // A refused try may still have landed (a 503 says nothing either way): the seat
            // is then this user's already.
            409 => {
                let (date, seat_no) = app.seat(seat);
                let s = stored(&app.state.db).await;
                let mine = s
                    .reservations
                    .iter()
                    .find(|r| {
                        r.user_id.as_str() == user
                            && r.date.to_string() == date
                            && r.seat_no.get() == seat_no
                    })
                    .unwrap_or_else(|| panic!("seat {seat} is held by someone else: {held:?}"));
                mine.reservation_id.to_string()
            }
            _ => panic!("hold of seat {seat}: {held:?}"),
        };
        out.push(Customer { user, token, held });
    }
    out
}

/// Every endpoint once, at the same time, with what it needs to get past its input checks.
pub(crate) async fn every_endpoint(
    app: &App,
    c: &Customer,
    next_seat: usize,
) -> Vec<(&'static str, Answer)> {
    let fresh = unique("u");
    let names = [
        "POST /queue/tokens",
        "GET /queue/status",
        "GET /concerts/{id}/dates",
        "GET /concerts/{id}/dates/{date}/seats",
        "POST /reservations",
        "GET /reservations/{id}",
        "POST /users/{id}/balance/charges",
        "GET /users/{id}/balance",
        "POST /payments",
    ];
    let key_charge = unique("k");
    let key_pay = unique("k");
    let answers = futures::join!(
        app.issue(&fresh),
        app.status(&c.token),
        app.dates_of(&c.token),
        app.seats_of(&c.token),
        app.hold(&c.token, &c.user, next_seat),
        app.reservation(&c.token, &c.held),
        app.charge(&c.token, &c.user, 1_000, &key_charge),
        app.balance(&c.token, &c.user),
        app.pay(&c.token, &c.user, &c.held, &key_pay),
    );
    let answers = [
        answers.0, answers.1, answers.2, answers.3, answers.4, answers.5, answers.6, answers.7,
        answers.8,
    ];
    names.into_iter().zip(answers).collect()
}

pub(crate) fn assert_all_unavailable(when: &str, answers: &[(&'static str, Answer)]) -> Duration {
    for (name, a) in answers {
        assert!(
            a.is_unavailable(),
            "{when}: {name} answered {} {} (retry-after: {}), not 503 SERVICE_UNAVAILABLE: {}",
            a.status,
            a.code,
            a.retry_after,
            a.body
        );
        assert!(a.took < BOUND, "{when}: {name} took {:?}", a.took);
    }
    answers
        .iter()
        .map(|(_, a)| a.took)
        .max()
        .unwrap_or_default()
}

/// Polls `attempt` until it answers 2xx; how long that took.
pub(crate) async fn until_ok<F, Fut>(what: &str, mut attempt: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Answer>,
{
    let t0 = Instant::now();
    loop {
        let a = attempt().await;
        if (200..300).contains(&a.status) {
            return t0.elapsed();
        }
        assert!(
            a.status == 503,
            "{what}: answered {} while recovering: {}",
            a.status,
            a.body
        );
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "{what}: the app did not recover within 20 s: {}",
            a.body
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The first answer that is not a 503 (Redis may still be connecting).
pub(crate) async fn until_ok_or_refused<F, Fut>(mut attempt: F) -> Answer
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Answer>,
{
    let t0 = Instant::now();
    loop {
        let a = attempt().await;
        if a.status != 503 || t0.elapsed() > Duration::from_secs(20) {
            return a;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
