//! The business metrics as the local server writes them: EMF lines on its stdout, read back
//! after a hold, a payment, the door's scans and a release, from the real `devserver serve`
//! process.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use api_client::Client;
use serde_json::{json, Value};

const ADMIN: &str = "op_metrics-test-operator-token-0123456789";

/// `devserver serve` on a free port, against the stores `make test` started, its stdout
/// collected line by line.
struct Server {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start() -> Server {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_devserver"))
        .arg("serve")
        .env("PORT", port.to_string())
        .env("ADMIN_TOKEN", ADMIN)
        .env("HOLD_TTL_SECONDS", "2")
        .env("SWEEP_INTERVAL_SECONDS", "1")
        .env("STORE_TIMEOUT_MS", "30000")
        .env(
            "REDIS_KEY_PREFIX",
            format!("m{}", uuid::Uuid::new_v4().simple()),
        )
        .env(
            "TABLE_NAME",
            std::env::var("TABLE_NAME").unwrap_or_else(|_| "concert-booking-test".into()),
        )
        .env(
            "RESERVATIONS_TABLE_NAME",
            std::env::var("RESERVATIONS_TABLE_NAME")
                .unwrap_or_else(|_| "concert-booking-test-reservations".into()),
        )
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("devserver starts");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let stdout = child.stdout.take().unwrap();
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    Server {
        child,
        lines,
        base: format!("http://127.0.0.1:{port}"),
    }
}

impl Server {
    /// Waits for a line that `pred` accepts.
    async fn until(&self, what: &str, within: Duration, pred: impl Fn(&[Value]) -> bool) {
        let start = Instant::now();
        loop {
            let docs: Vec<Value> = self
                .lines
                .lock()
                .unwrap()
                .iter()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .filter(|v| v.get("_aws").is_some())
                .collect();
            if pred(&docs) {
                return;
            }
            assert!(
                start.elapsed() < within,
                "no {what} within {within:?}: {docs:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn emf(&self) -> Vec<Value> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v.get("_aws").is_some())
            .collect()
    }
}

fn carries(docs: &[Value], metric: &str, function: &str) -> bool {
    docs.iter()
        .any(|d| d["Function"] == function && d.get(metric).is_some())
}

#[tokio::test]
async fn a_hold_a_payment_and_a_release_write_emf_lines_to_the_servers_log() {
    let server = start();
    server.until_serving().await;
    let api = Client::signing_in(&server.base).unwrap();
    let concert = format!(
        "metrics-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    );
    let date = (chrono::Utc::now() + chrono::Duration::days(3))
        .format("%Y-%m-%d")
        .to_string();
    let body = json!({ "name": "Metrics", "dates": [{ "date": date, "sections": [
        { "name": "All", "fromSeat": 1, "toSeat": 10, "price": 40_000 }
    ]}]});
    let res = api.put_concert(ADMIN, &concert, &body).await.unwrap();
    assert_eq!(res.status(), 201, "{}", res.text());

    let user = format!("u-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let issued: Value = api
        .issue_token(&user, &concert)
        .await
        .unwrap()
        .json()
        .unwrap();
    let token = issued["token"].as_str().unwrap().to_owned();
    let held: Value = api
        .hold(&token, &user, &concert, &date, 1)
        .await
        .unwrap()
        .json()
        .unwrap();
    let refused = api.hold(&token, &user, &concert, &date, 1).await.unwrap();
    assert_eq!(refused.status(), 409);
    let charged = api.charge(&token, &user, 40_000, None).await.unwrap();
    assert_eq!(charged.status(), 200, "{}", charged.text());
    let paid = api
        .pay(&token, &user, held["reservationId"].as_str().unwrap(), None)
        .await
        .unwrap();
    assert_eq!(paid.status(), 201, "{}", paid.text());
    // The paid seat at the door: let in, then refused as already in.
    let reservation = held["reservationId"].as_str().unwrap();
    let tickets: Value = api
        .tickets(&user, reservation)
        .await
        .unwrap()
        .json()
        .unwrap();
    let code = tickets["tickets"][0]["code"].as_str().unwrap();
    assert_eq!(api.check_in(ADMIN, code).await.unwrap().status(), 200);
    assert_eq!(api.check_in(ADMIN, code).await.unwrap().status(), 409);
    // A hold left to lapse: the TTL (played by the server) or its sweep releases it.
    let other = format!("v-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let issued: Value = api
        .issue_token(&other, &concert)
        .await
        .unwrap()
        .json()
        .unwrap();
    let token = issued["token"].as_str().unwrap().to_owned();
    let lapsing = api.hold(&token, &other, &concert, &date, 2).await.unwrap();
    assert_eq!(lapsing.status(), 201, "{}", lapsing.text());

    server
        .until("a release", Duration::from_secs(90), |docs| {
            carries(docs, "SeatsReleasedByTtl", "release_hold")
                || carries(docs, "SeatsReleasedBySweep", "sweep_holds")
        })
        .await;
    let docs = server.emf();
    assert!(carries(&docs, "TokensIssued", "issue_token"), "{docs:?}");
    assert!(carries(&docs, "Admissions", "issue_token"), "{docs:?}");
    assert!(carries(&docs, "HoldsWon", "reserve_seat"), "{docs:?}");
    assert!(carries(&docs, "HoldsRefused", "reserve_seat"), "{docs:?}");
    let payment = docs
        .iter()
        .find(|d| d["Function"] == "pay" && d.get("Payments").is_some())
        .expect("a payment line");
    assert_eq!(payment["Revenue"], 40_000.0);
    assert!(carries(&docs, "CheckIns", "admin_check_in"), "{docs:?}");
    let refused = docs
        .iter()
        .find(|d| d.get("CheckInsRefused").is_some())
        .expect("a refused scan's line");
    assert_eq!(refused["Reason"], "ALREADY_CHECKED_IN");
    // Every line is EMF: its directive names each metric it carries, in our namespace, by
    // function and in total (and by reason, for a refused scan).
    for doc in &docs {
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "ConcertBooking", "{doc}");
        let dimensions = if doc.get("Reason").is_some() {
            json!([["Function"], ["Reason"], []])
        } else {
            json!([["Function"], []])
        };
        assert_eq!(directive["Dimensions"], dimensions, "{doc}");
        assert!(doc["_aws"]["Timestamp"].is_i64(), "{doc}");
        let names = directive["Metrics"].as_array().unwrap();
        assert!(!names.is_empty(), "{doc}");
        for m in names {
            let name = m["Name"].as_str().unwrap();
            assert!(doc[name].is_number(), "{name} is named and carried: {doc}");
            assert!(
                ["Count", "None"].contains(&m["Unit"].as_str().unwrap()),
                "{doc}"
            );
        }
    }
}

impl Server {
    async fn until_serving(&self) {
        let start = Instant::now();
        while !self
            .lines
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.starts_with("Serving http://"))
        {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "the server did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
