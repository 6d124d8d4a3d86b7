//! Micro-benchmarks that isolate our own overhead, each as a ratio at equal concurrency:
//!
//! - `load poll`: the `GET /queue/status` handler called in-process (a `lambda_http::Request`
//!   built in memory, no HTTP) against a raw EVALSHA of the very same Lua script with the same
//!   arguments, on the same Redis connection manager;
//! - `load http`: the local server answering polls against a bare hyper server (same tokio and
//!   hyper, `load bare-server`, its own process like the devserver) answering a constant body of
//!   the same bytes, both driven by the same lean HTTP/1.1 client (one hyper connection per
//!   worker, keep-alive).
//!
//! Each side runs twice, interleaved, and keeps its better run: the machine is shared.

use std::future::Future;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use shared::domain::{ConcertDate, ConcertId, QueueToken, UserId, Won};
use shared::store::scripts::{Issued, LineKeys, Who};
use shared::AppState;
use tokio::net::{TcpListener, TcpStream};

use crate::stats::{fmt_us, histogram, micros};
use crate::Args;

/// What `workers` concurrent loops did in a fixed time.
pub struct Run {
    pub ok: u64,
    pub failed: u64,
    pub secs: f64,
    pub hist: Histogram<u64>,
}

impl Run {
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.secs
    }

    pub fn p(&self, q: f64) -> u64 {
        self.hist.value_at_quantile(q)
    }

    pub fn row(&self, name: &str) -> String {
        format!(
            "| {name} | {:.0}/s | {} | {} | {} | {} |",
            self.rate(),
            fmt_us(self.p(0.5)),
            fmt_us(self.p(0.99)),
            fmt_us(self.hist.max()),
            self.failed
        )
    }
}

/// The better of two runs, by rate.
pub fn best(a: Run, b: Run) -> Run {
    if b.rate() > a.rate() {
        b
    } else {
        a
    }
}

/// `workers` loops calling `op(worker)` until `secs` are up; `op` answers whether the call
/// succeeded.
pub async fn closed_loop<F, Fut>(workers: usize, secs: f64, op: F) -> Run
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let op = Arc::new(op);
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(secs);
    let tasks: Vec<_> = (0..workers)
        .map(|worker| {
            let op = op.clone();
            tokio::spawn(async move {
                let (mut hist, mut ok, mut failed) = (histogram(), 0u64, 0u64);
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let good = op(worker).await;
                    let _ = hist.record(micros(t.elapsed()));
                    if good {
                        ok += 1;
                    } else {
                        failed += 1;
                    }
                }
                (hist, ok, failed)
            })
        })
        .collect();
    let mut run = Run {
        ok: 0,
        failed: 0,
        secs: 0.0,
        hist: histogram(),
    };
    for t in tasks {
        if let Ok((h, ok, failed)) = t.await {
            let _ = run.hist.add(&h);
            run.ok += ok;
            run.failed += failed;
        }
    }
    run.secs = start.elapsed().as_secs_f64();
    run
}

// ------------------------------------------------------------------ poll in-process vs EVALSHA

/// The STATUS script exactly as `shared::store::scripts` builds it. `SCRIPT EXISTS` below
/// proves the copy is byte-identical: Redis knows it only because the handler loaded it.
fn status_script_source() -> Result<String, String> {
    Ok(shared::store::scripts::status_source())
}

/// A concert of its own, one date, one seat: only its existence matters to the queue.
pub async fn own_concert(state: &AppState, name: &str) -> anyhow::Result<(ConcertId, ConcertDate)> {
    let concert = ConcertId::parse(&format!("{name}-{}", crate::tag()))?;
    let date = ConcertDate::from_naive(ConcertDate::today_utc().naive() + chrono::Days::new(1));
    shared::flows::catalog::seed(&state.db, &concert, &[date], 50, Won::new(1_000))
        .await
        .map_err(|e| anyhow::anyhow!("seeding {concert}: {e}"))?;
    Ok((concert, date))
}

pub async fn issue(
    state: &AppState,
    user: &str,
    concert: &ConcertId,
) -> anyhow::Result<QueueToken> {
    let user = UserId::parse(user)?;
    match shared::flows::queue::issue(state, &user, concert)
        .await
        .map_err(|e| anyhow::anyhow!("issuing a token: {e}"))?
    {
        Issued::New(s) | Issued::Existing(s) => Ok(s.token),
    }
}

pub async fn poll(args: &mut Args) -> anyhow::Result<bool> {
    let workers = args.number("--concurrency", 128)?;
    let secs = args.float("--seconds", 2.0)?;
    args.done()?;
    let state = Arc::new(
        AppState::from_env()
            .await
            .map_err(|e| anyhow::anyhow!("cannot build the state: {e}"))?,
    );
    let (concert, _) = own_concert(&state, "poll").await?;
    let script = Arc::new(redis::Script::new(
        &status_script_source().map_err(anyhow::Error::msg)?,
    ));
    // The connection manager the handler uses, taken out of the store.
    let conn = connection(&state).await?;

    // As API Gateway hands the function a poll: the buyer's claims, the queue token's header.
    let handler_run = |(user, token): (String, QueueToken)| {
        let state = state.clone();
        let token = token.to_string();
        closed_loop(workers, secs, move |_| {
            let state = state.clone();
            let req = http::Request::builder()
                .method("GET")
                .uri("/queue/status")
                .header(shared::http::QUEUE_TOKEN, token.as_str())
                .body(lambda_http::Body::Empty)
                .expect("a valid request");
            let req = crate::claims::signed_in(req, &user);
            async move { matches!(queue_status::handler(&state, req).await, Ok(r) if r.status() == 200) }
        })
    };
    let raw_run = |token: QueueToken| {
        let raw = Arc::new(RawPoll::new(&state, script.clone(), conn.clone(), &token));
        closed_loop(workers, secs, move |_| {
            let raw = raw.clone();
            async move { raw.call().await }
        })
    };
    // Warm up (and load the script through the handler), then prove the copy is the same.
    let user = |n: &str| format!("poll-{}-{n}", crate::tag());
    let issued = |n: &'static str| {
        let (state, concert, user) = (state.clone(), concert.clone(), user(n));
        async move {
            let token = issue(&state, &user, &concert).await?;
            Ok::<_, anyhow::Error>((user, token))
        }
    };
    let warm = issued("warm").await?;
    handler_run(warm.clone()).await;
    let exists: Vec<bool> = state
        .redis
        .run(|mut c| {
            let sha = script.get_hash().to_owned();
            async move {
                redis::cmd("SCRIPT")
                    .arg("EXISTS")
                    .arg(sha)
                    .query_async(&mut c)
                    .await
            }
        })
        .await
        .map_err(|e| anyhow::anyhow!("SCRIPT EXISTS: {e}"))?;
    if exists.first() != Some(&true) {
        anyhow::bail!("the STATUS script read from scripts.rs is not the one the handler ran");
    }
    raw_run(warm.1).await;

    // A fresh ACTIVE token per run, so none expires mid-run.
    let before = evalsha_stats().await;
    let mut handler_best = handler_run(issued("h1").await?).await;
    let mut raw_best = raw_run(issued("r1").await?.1).await;
    handler_best = best(handler_best, handler_run(issued("h2").await?).await);
    raw_best = best(raw_best, raw_run(issued("r2").await?.1).await);
    let after = evalsha_stats().await;

    let ratio = handler_best.rate() / raw_best.rate();
    println!(
        "## Queue poll in-process vs raw EVALSHA, concurrency {workers}, best of 2 × {secs} s\n"
    );
    println!(
        "| call | rate | p50 | p99 | max | failed |\n| --- | ---: | ---: | ---: | ---: | ---: |"
    );
    println!(
        "{}",
        handler_best.row("`queue_status::handler`, in-process")
    );
    println!(
        "{}",
        raw_best.row("EVALSHA of the same script, same connection manager")
    );
    let pass = ratio >= 0.5 && handler_best.failed == 0 && raw_best.failed == 0;
    println!(
        "\nratio {ratio:.2} (target ≥ 0.50): {}\n",
        if pass { "met" } else { "MISSED" }
    );
    if let (Some((c0, u0)), Some((c1, u1))) = (before, after) {
        if c1 > c0 {
            let per_call = (u1 - u0) as f64 / (c1 - c0) as f64;
            println!(
                "Redis itself spent {per_call:.1} µs per script call (INFO commandstats): its one \
                 thread alone caps either side at {:.0}/s.\n",
                1e6 / per_call
            );
        }
    }
    Ok(pass)
}

// ------------------------------------------------------------------ our HTTP layer vs bare hyper

/// The raw EVALSHA of the STATUS script for one token, with the keys and arguments the
/// handler passes.
#[derive(Clone)]
struct RawPoll {
    script: Arc<redis::Script>,
    conn: shared::store::redis::Connection,
    keys: Vec<String>,
    args: Vec<String>,
}

impl RawPoll {
    fn new(
        state: &AppState,
        script: Arc<redis::Script>,
        conn: shared::store::redis::Connection,
        token: &QueueToken,
    ) -> Self {
        let s = &state.settings;
        let signed = s
            .queue_token_key
            .verify(token)
            .expect("the token was issued by this state");
        Self {
            script,
            conn,
            keys: LineKeys::new(state.redis.prefix(), &signed.concert)
                .0
                .into_iter()
                .chain([LineKeys::fair(
                    state.redis.prefix(),
                    &signed.concert,
                    Who::Holder(&signed.id),
                )])
                .collect(),
            args: shared::store::scripts::common_args(s, None)
                .into_iter()
                .chain([signed.id.to_string(), "1".into(), String::new()])
                .chain(shared::store::scripts::fair_args(s))
                .chain([shared::store::scripts::jitter_draw().to_string()])
                .collect(),
        }
    }

    async fn call(&self) -> bool {
        let mut conn = self.conn.clone();
        let mut inv = self.script.prepare_invoke();
        for k in &self.keys {
            inv.key(k);
        }
        for a in &self.args {
            inv.arg(a);
        }
        inv.invoke_async::<redis::Value>(&mut conn).await.is_ok()
    }
}

/// The Redis connection the state's store uses (made on first use).
pub async fn connection(state: &AppState) -> anyhow::Result<shared::store::redis::Connection> {
    state
        .redis
        .run(|c| async move { Ok(c) })
        .await
        .map_err(|e| anyhow::anyhow!("redis: {e}"))
}

/// `load bare-server --body TEXT [--evalsha TOKEN]`: a hyper server answering every request
/// 200 with `TEXT` as `application/json`, built and tuned like the devserver's (tokio's default
/// runtime, one task per connection, TCP_NODELAY). With `--evalsha`, each request first runs
/// the raw EVALSHA of the poll's script for TOKEN (the stores' environment). Prints its port,
/// then serves until it is killed.
pub async fn bare_server(args: &mut Args) -> anyhow::Result<()> {
    let body = Bytes::from(args.required("--body")?);
    let token = args.optional("--evalsha");
    args.done()?;
    let raw = match token {
        Some(token) => {
            let state = AppState::from_env()
                .await
                .map_err(|e| anyhow::anyhow!("cannot build the state: {e}"))?;
            let script = Arc::new(redis::Script::new(
                &status_script_source().map_err(anyhow::Error::msg)?,
            ));
            let conn = connection(&state).await?;
            let token = QueueToken::parse(&token)
                .map_err(|e| anyhow::anyhow!("--evalsha: the token {e}"))?;
            Some(RawPoll::new(&state, script, conn, &token))
        }
        None => None,
    };
    let raw = Arc::new(raw);
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let port = listener.local_addr()?.port();
    println!("{port}");
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (body, raw) = (body.clone(), raw.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |_req| {
                let (body, raw) = (body.clone(), raw.clone());
                async move {
                    let status = match raw.as_ref() {
                        Some(raw) if !raw.call().await => 503,
                        _ => 200,
                    };
                    Ok::<_, std::convert::Infallible>(
                        hyper::Response::builder()
                            .status(status)
                            .header(http::header::CONTENT_TYPE, "application/json")
                            .body(Full::new(body))
                            .expect("a valid response"),
                    )
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Starts `load bare-server` with these arguments; its address.
fn spawn_bare(args: &[&str]) -> anyhow::Result<(std::process::Child, SocketAddr)> {
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .arg("bare-server")
        .args(args)
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| anyhow::anyhow!("cannot start the bare server: {e}"))?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped stdout")).read_line(&mut line)?;
    match format!("127.0.0.1:{}", line.trim()).parse() {
        Ok(addr) => Ok((child, addr)),
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(anyhow::anyhow!("the bare server said {line:?}"))
        }
    }
}

/// `workers` keep-alive HTTP/1.1 connections, each sending `GET path` with `headers` back to
/// back.
async fn hammer(
    addr: SocketAddr,
    path: &str,
    headers: Vec<(&'static str, String)>,
    workers: usize,
    secs: f64,
) -> anyhow::Result<Run> {
    let path = path.to_owned();
    hammer_with(addr, workers, secs, http::StatusCode::OK, move |_, _| {
        let mut req = hyper::Request::get(path.as_str());
        for (name, value) in &headers {
            req = req.header(*name, value.as_str());
        }
        req.body(Full::new(Bytes::new()))
    })
    .await
}

/// `workers` keep-alive HTTP/1.1 connections, each sending `request(worker, n)` (its `n`th)
/// back to back; a call succeeds when it is answered `expect`.
pub async fn hammer_with<F>(
    addr: SocketAddr,
    workers: usize,
    secs: f64,
    expect: http::StatusCode,
    request: F,
) -> anyhow::Result<Run>
where
    F: Fn(usize, u64) -> http::Result<hyper::Request<Full<Bytes>>> + Send + Sync + 'static,
{
    let mut senders = Vec::with_capacity(workers);
    for _ in 0..workers {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| anyhow::anyhow!("connect {addr}: {e}"))?;
        let _ = stream.set_nodelay(true);
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| anyhow::anyhow!("handshake {addr}: {e}"))?;
        tokio::spawn(conn);
        senders.push(tokio::sync::Mutex::new((sender, 0u64)));
    }
    let senders = Arc::new(senders);
    let request = Arc::new(request);
    // Worker i sends on connection i only (the lock is never contended).
    Ok(closed_loop(workers, secs, move |i| {
        let (senders, request) = (senders.clone(), request.clone());
        async move {
            let mut guard = senders[i].lock().await;
            let (sender, sent) = &mut *guard;
            let n = *sent;
            *sent += 1;
            let Ok(mut req) = request(i, n) else {
                return false;
            };
            req.headers_mut().insert(
                http::header::HOST,
                http::HeaderValue::from_static("127.0.0.1"),
            );
            if sender.ready().await.is_err() {
                return false;
            }
            match sender.send_request(req).await {
                Ok(resp) => {
                    let ok = resp.status() == expect;
                    ok & resp.into_body().collect().await.is_ok()
                }
                Err(_) => false,
            }
        }
    })
    .await)
}

/// The server's address from `--url`, which the raw HTTP/1.1 connections dial.
pub fn socket_addr(url: &str) -> anyhow::Result<SocketAddr> {
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .map_err(|_| anyhow::anyhow!("--url must be http://IP:PORT, not {url}"))
}

pub async fn http(args: &mut Args) -> anyhow::Result<bool> {
    let url = args.text("--url", "http://127.0.0.1:3000");
    let concert = args.required("--concert")?;
    let workers = args.number("--concurrency", 64)?;
    let secs = args.float("--seconds", 3.0)?;
    args.done()?;
    let addr = socket_addr(&url)?;
    let api = crate::api::Api::new(&url, 4)?;
    // A signed-in user's poll: the access token (which the server's authorizer checks, as API
    // Gateway does in AWS) and the queue token.
    let signed_in = |n: &'static str| {
        let api = api.clone();
        let concert = concert.clone();
        async move {
            let user = format!("http-{}-{n}", crate::tag());
            let token = api
                .issue(&user, &concert)
                .await
                .map_err(|f| anyhow::anyhow!("issuing a token: {f}"))?
                .token;
            let access = api.access_token(&user).await?;
            Ok::<_, anyhow::Error>(vec![
                ("authorization", format!("Bearer {access}")),
                (shared::http::QUEUE_TOKEN, token),
            ])
        }
    };
    // The bare server answers exactly the bytes a poll answers.
    let sample = signed_in("sample").await?;
    let mut request =
        reqwest::Client::new().get(format!("{}/queue/status", url.trim_end_matches('/')));
    for (name, value) in &sample {
        request = request.header(*name, value);
    }
    let body = request.send().await?.text().await?;
    let (mut bare, bare_addr) = spawn_bare(&["--body", &body])?;
    let script_token = signed_in("evalsha").await?[1].1.clone();
    let with_script = spawn_bare(&["--body", &body, "--evalsha", &script_token]);

    let evalsha_before = evalsha_stats().await;
    let result = async {
        let (_, script_addr) = with_script.as_ref().map_err(|e| anyhow::anyhow!("{e:#}"))?;
        let script_addr = *script_addr;
        let path = "/queue/status";
        hammer(addr, path, signed_in("warm").await?, workers, 1.0).await?;
        hammer(bare_addr, path, vec![], workers, 1.0).await?;
        hammer(script_addr, path, vec![], workers, 1.0).await?;
        let mut ours = hammer(addr, path, signed_in("o1").await?, workers, secs).await?;
        let mut base = hammer(bare_addr, path, vec![], workers, secs).await?;
        let mut scripted = hammer(script_addr, path, vec![], workers, secs).await?;
        ours = best(
            ours,
            hammer(addr, path, signed_in("o2").await?, workers, secs).await?,
        );
        base = best(base, hammer(bare_addr, path, vec![], workers, secs).await?);
        scripted = best(
            scripted,
            hammer(script_addr, path, vec![], workers, secs).await?,
        );
        Ok::<_, anyhow::Error>((ours, base, scripted))
    }
    .await;
    let _ = bare.kill();
    let _ = bare.wait();
    if let Ok((mut child, _)) = with_script {
        let _ = child.kill();
        let _ = child.wait();
    }
    let (ours, base, scripted) = result?;
    let evalsha_after = evalsha_stats().await;

    let ratio = ours.rate() / base.rate();
    let p99_ms = ours.p(0.99) as f64 / 1000.0;
    println!(
        "## Polls over HTTP vs a bare hyper server, {workers} connections, best of 2 × {secs} s\n"
    );
    println!(
        "| server | rate | p50 | p99 | max | failed |\n| --- | ---: | ---: | ---: | ---: | ---: |"
    );
    println!(
        "{}",
        ours.row("devserver, `GET /queue/status` (the access token's RS256 check and a Redis script per poll)")
    );
    println!(
        "{}",
        base.row("bare hyper, constant body of the same bytes")
    );
    println!(
        "{}",
        scripted.row("bare hyper + the same raw EVALSHA per request (reference)")
    );
    let pass = ratio >= 0.7 && p99_ms < 5.0 && ours.failed == 0;
    println!(
        "\nratio {ratio:.2} (target ≥ 0.70), p99 {p99_ms:.2} ms (target < 5 ms): {}; \
         against the bare server making the same Redis call: {:.2}\n",
        if pass { "met" } else { "MISSED" },
        ours.rate() / scripted.rate()
    );
    if let (Some((c0, u0)), Some((c1, u1))) = (evalsha_before, evalsha_after) {
        if c1 > c0 {
            let per_call = (u1 - u0) as f64 / (c1 - c0) as f64;
            println!(
                "Redis itself spent {per_call:.1} µs per poll script (INFO commandstats, {} calls): \
                 its one thread alone would cap polls at {:.0}/s, {:.2} of the bare server's rate, \
                 before any CPU for the servers and the client.\n",
                c1 - c0,
                1e6 / per_call,
                1e6 / per_call / base.rate()
            );
        }
    }
    Ok(pass)
}

/// EVALSHA's `calls` and `usec` from Redis's INFO commandstats, where REDIS_URL is set.
pub async fn evalsha_stats() -> Option<(u64, u64)> {
    let url = std::env::var("REDIS_URL").ok()?;
    let client = redis::Client::open(url).ok()?;
    let mut conn = client.get_multiplexed_async_connection().await.ok()?;
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut conn)
        .await
        .ok()?;
    let line = info.lines().find(|l| l.starts_with("cmdstat_evalsha:"))?;
    let field = |name: &str| -> Option<u64> {
        line.split([':', ','])
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))?
            .parse()
            .ok()
    };
    Some((field("calls")?, field("usec")?))
}
