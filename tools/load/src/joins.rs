//! `load joins`: the join (`POST /queue/tokens`) over HTTP through the local server, next to
//! what bounds it, at equal concurrency (64 keep-alive connections by default):
//!
//! - joins of a new user each (201: a new place in line), and asking again (200);
//! - the same server answering a request that touches no store: a poll with a forged token,
//!   refused by its MAC (401) after the same routing, parsing and problem+json;
//! - the ISSUE script alone: raw EVALSHA on the same Redis, a new user each (`make scale`
//!   measures the same script pipelined, on a redis-server of its own).
//!
//! Each runs three times, interleaved in turns, and keeps its best run: the machine is shared. The target:
//! at least 2,000 joins a second, and at least half the no-store rate.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use shared::domain::token::TokenId;
use shared::domain::ConcertId;
use shared::domain::UserId;
use shared::store::scripts::{
    common_args, fair_args, issue_source, LineKeys, Who, PRE_QUEUE_DRAWS,
};
use shared::AppState;

use crate::micro::{best, closed_loop, connection, evalsha_stats, hammer_with, Run};
use crate::Args;

/// Each kind runs this many times; the best run counts (the machine is shared).
const ROUNDS: usize = 3;

/// At least this many joins a second over HTTP...
const TARGET_PER_SECOND: f64 = 2_000.0;
/// ...and at least this share of the no-store rate.
const TARGET_SHARE: f64 = 0.5;

pub async fn run(args: &mut Args) -> anyhow::Result<bool> {
    let url = args.text("--url", "http://127.0.0.1:3000");
    let concert = args.required("--concert")?;
    let workers = args.number("--concurrency", 64)?;
    let secs = args.float("--seconds", 3.0)?;
    args.done()?;
    let addr: SocketAddr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .map_err(|_| anyhow::anyhow!("--url must be http://IP:PORT, not {url}"))?;
    let concert_id = ConcertId::parse(&concert)?;
    let state = AppState::from_env()
        .await
        .map_err(|e| anyhow::anyhow!("cannot build the state: {e}"))?;

    // Every run's users are its own: `round` tells them apart.
    let round = Arc::new(AtomicU64::new(0));
    let join = |fresh: bool| {
        let concert = concert.clone();
        let round = round.clone();
        async move {
            let r = round.fetch_add(1, Ordering::Relaxed);
            let expect = if fresh {
                http::StatusCode::CREATED
            } else {
                http::StatusCode::OK
            };
            hammer_with(addr, workers, secs, expect, move |worker, n| {
                // Asking again: each worker's one user, who joined in the first round.
                let user = if fresh {
                    format!("j-{}-{r}-{worker}-{n}", crate::tag())
                } else {
                    format!("j-{}-again-{worker}", crate::tag())
                };
                let body = serde_json::json!({ "userId": user, "concertId": concert });
                hyper::Request::post("/queue/tokens")
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .body(Full::new(Bytes::from(body.to_string())))
            })
            .await
        }
    };
    // Well formed, and signed with no key of ours: refused before any I/O.
    let forged = format!(
        "Bearer {concert}.{}.{}",
        TokenId::generate(),
        TokenId::generate()
    );
    let no_store = || {
        let forged = forged.clone();
        hammer_with(
            addr,
            workers,
            secs,
            http::StatusCode::UNAUTHORIZED,
            move |_, _| {
                hyper::Request::get("/queue/status")
                    .header(http::header::AUTHORIZATION, forged.as_str())
                    .body(Full::new(Bytes::new()))
            },
        )
    };
    let raw = RawIssue::new(&state, &concert_id).await?;
    let raw_run = || {
        let raw = raw.clone();
        let r = round.fetch_add(1, Ordering::Relaxed);
        let calls = Arc::new(AtomicU64::new(0));
        closed_loop(workers, secs, move |_| {
            let raw = raw.clone();
            let n = calls.fetch_add(1, Ordering::Relaxed);
            async move { raw.call(&format!("jr-{}-{r}-{n}", crate::tag())).await }
        })
    };

    // Warm up: the server reads the concert once (then knows it), the line mirrors its
    // controls, and each worker's user of "asking again" joins.
    let warm = join(false).await?;
    if warm.ok == 0 {
        anyhow::bail!("no join was answered in the warm-up: is {concert} seeded?");
    }
    no_store().await?;
    raw_run().await;

    // Rounds in turn, each in another order, so that no kind always runs first or last.
    let before = evalsha_stats().await;
    let (mut new, mut again, mut bare, mut script) = (None, None, None, None);
    let keep = |slot: &mut Option<Run>, run: Run| {
        *slot = Some(match slot.take() {
            Some(kept) => best(kept, run),
            None => run,
        })
    };
    for round in 0..ROUNDS {
        for kind in (0..4).map(|k| (k + round) % 4) {
            match kind {
                0 => keep(&mut new, join(true).await?),
                1 => keep(&mut again, join(false).await?),
                2 => keep(&mut bare, no_store().await?),
                _ => keep(&mut script, raw_run().await),
            }
        }
    }
    let after = evalsha_stats().await;
    let [new, again, bare, script] = [new, again, bare, script].map(|r| r.expect("every kind ran"));

    report(workers, secs, &new, &again, &bare, &script, before, after)
}

#[allow(clippy::too_many_arguments)]
fn report(
    workers: usize,
    secs: f64,
    new: &Run,
    again: &Run,
    bare: &Run,
    script: &Run,
    before: Option<(u64, u64)>,
    after: Option<(u64, u64)>,
) -> anyhow::Result<bool> {
    let share = new.rate() / bare.rate();
    println!("## Joins over HTTP, {workers} connections, best of {ROUNDS} × {secs} s\n");
    println!(
        "| call | rate | p50 | p99 | max | failed |\n| --- | ---: | ---: | ---: | ---: | ---: |"
    );
    println!(
        "{}",
        new.row("devserver, `POST /queue/tokens`, a new user each (201)")
    );
    println!(
        "{}",
        again.row("devserver, `POST /queue/tokens`, asking again (200)")
    );
    println!(
        "{}",
        bare.row("devserver, `GET /queue/status` with a forged token (401, no store)")
    );
    println!(
        "{}",
        script.row("raw EVALSHA of the ISSUE script, same Redis, a new user each")
    );
    let pass = new.rate() >= TARGET_PER_SECOND
        && share >= TARGET_SHARE
        && new.failed == 0
        && again.failed == 0;
    println!(
        "\njoins {:.0}/s (target ≥ {TARGET_PER_SECOND:.0}), {share:.2} of the no-store rate \
         (target ≥ {TARGET_SHARE:.2}): {}; {:.2} of the script alone\n",
        new.rate(),
        if pass { "met" } else { "MISSED" },
        new.rate() / script.rate()
    );
    if let (Some((c0, u0)), Some((c1, u1))) = (before, after) {
        if c1 > c0 {
            let per_call = (u1 - u0) as f64 / (c1 - c0) as f64;
            println!(
                "Redis itself spent {per_call:.1} µs per script call (INFO commandstats, {} calls, \
                 joins and the script alone): its one thread alone would cap joins at {:.0}/s.\n",
                c1 - c0,
                1e6 / per_call
            );
        }
    }
    Ok(pass)
}

/// The raw EVALSHA of the ISSUE script with the keys and arguments a join passes.
#[derive(Clone)]
struct RawIssue {
    script: Arc<redis::Script>,
    conn: shared::store::redis::Connection,
    prefix: String,
    concert: ConcertId,
    keys: Vec<String>,
    common: Vec<String>,
    fair: [String; 2],
}

impl RawIssue {
    async fn new(state: &AppState, concert: &ConcertId) -> anyhow::Result<Self> {
        Ok(Self {
            script: Arc::new(redis::Script::new(&issue_source())),
            conn: connection(state).await?,
            prefix: state.redis.prefix().to_owned(),
            concert: concert.clone(),
            keys: LineKeys::new(state.redis.prefix(), concert).0.to_vec(),
            common: common_args(&state.settings, None),
            fair: fair_args(&state.settings),
        })
    }

    async fn call(&self, user: &str) -> bool {
        use rand::Rng;
        let Ok(user) = UserId::parse(user) else {
            return false;
        };
        let mut conn = self.conn.clone();
        let mut inv = self.script.prepare_invoke();
        for k in &self.keys {
            inv.key(k);
        }
        inv.key(LineKeys::fair(
            &self.prefix,
            &self.concert,
            Who::Buyer(&user),
        ));
        for a in &self.common {
            inv.arg(a);
        }
        let draw = rand::rng().random_range(0..PRE_QUEUE_DRAWS);
        inv.arg(user.as_str())
            .arg(TokenId::generate().as_str())
            .arg(draw);
        for a in &self.fair {
            inv.arg(a);
        }
        inv.arg(shared::store::scripts::jitter_draw());
        inv.invoke_async::<redis::Value>(&mut conn).await.is_ok()
    }
}
