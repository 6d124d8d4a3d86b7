//! `load joins`: the join (`POST /queue/tokens`) over HTTP through the local server, next to
//! what bounds it, at equal concurrency (64 keep-alive connections by default):
//!
//! - joins of a new user each (201: a new place in line), and asking again (200);
//! - the same server answering a request that touches no store: a poll with a forged queue
//!   token, refused by its MAC (401) after the same routing, access-token check, parsing and
//!   problem+json;
//! - the ISSUE script alone: raw EVALSHA on the same Redis, a new user each (`make scale`
//!   measures the same script pipelined, on a redis-server of its own).
//!
//! Each runs three times, interleaved in turns, and keeps its best run: the machine is shared. The target:
//! at least 2,000 joins a second, and at least half the no-store rate.
//!
//! Every call is a signed-in buyer's, as in AWS: the server checks each access token (RS256)
//! as API Gateway's authorizer would. A new user's join needs a new user's access token, so
//! each round's users sign in (`POST /local/sign-in`) before it starts: not timed in the joins,
//! and reported on a line of their own (what a sign-in costs the local issuer).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use http_body_util::Full;
use shared::domain::token::TokenId;
use shared::domain::ConcertId;
use shared::domain::UserId;
use shared::store::scripts::{
    common_args, fair_args, issue_source, LineKeys, Who, PRE_QUEUE_DRAWS,
};
use shared::AppState;

use crate::api::Api;
use crate::micro::{best, closed_loop, connection, evalsha_stats, hammer_with, Run};
use crate::Args;

/// New users signed in ahead of a round: per worker, each one's (userId, `Authorization`).
type Pool = Arc<Vec<Vec<(String, String)>>>;

/// Sign-ins in flight at once.
const SIGN_INS_AT_ONCE: usize = 64;

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
    let addr = crate::micro::socket_addr(&url)?;
    let concert_id = ConcertId::parse(&concert)?;
    let state = AppState::from_env()
        .await
        .map_err(|e| anyhow::anyhow!("cannot build the state: {e}"))?;

    let api = Api::new(&url, SIGN_INS_AT_ONCE)?;
    let signed = SignIns::default();
    // Asking again: each worker's one user, who joins in the warm-up.
    let again_users: Vec<String> = (0..workers)
        .map(|w| format!("j-{}-again-{w}", crate::tag()))
        .collect();
    let again_access = Arc::new(sign_in_all(&api, &again_users, &signed).await?);
    // Every round of new users is its own: `round` tells them apart.
    let round = Arc::new(AtomicU64::new(0));
    let join = |fresh: Option<Pool>| {
        let concert = concert.clone();
        let again_users = again_users.clone();
        let again_access = again_access.clone();
        async move {
            let expect = if fresh.is_some() {
                http::StatusCode::CREATED
            } else {
                http::StatusCode::OK
            };
            hammer_with(addr, workers, secs, expect, move |worker, n| {
                let (user, access) = match &fresh {
                    // A worker that ran out of new users' tokens sends none: a 401, counted as
                    // failed (the pool is sized at twice the warm-up's rate).
                    Some(pool) => match pool[worker].get(n as usize) {
                        Some((user, access)) => (user.as_str(), access.as_str()),
                        None => ("", ""),
                    },
                    None => (again_users[worker].as_str(), again_access[worker].as_str()),
                };
                let body = serde_json::json!({ "userId": user, "concertId": concert });
                let mut req = hyper::Request::post("/queue/tokens")
                    .header(http::header::CONTENT_TYPE, "application/json");
                if !access.is_empty() {
                    req = req.header(http::header::AUTHORIZATION, access);
                }
                req.body(Full::new(Bytes::from(body.to_string())))
            })
            .await
        }
    };
    // Well formed, and signed with no key of ours: refused before any store is asked, after
    // the access token's check.
    let forged = format!("{concert}.{}.{}", TokenId::generate(), TokenId::generate());
    let no_store = || {
        let forged = forged.clone();
        let access = again_access[0].clone();
        hammer_with(
            addr,
            workers,
            secs,
            http::StatusCode::UNAUTHORIZED,
            move |_, _| {
                hyper::Request::get("/queue/status")
                    .header(http::header::AUTHORIZATION, access.as_str())
                    .header(shared::http::QUEUE_TOKEN, forged.as_str())
                    .body(Full::new(Bytes::new()))
            },
        )
    };
    // New users for one timed round, signed in ahead of it: `per_worker` each.
    let new_users = |per_worker: usize| {
        let (api, signed) = (api.clone(), signed.clone());
        let r = round.fetch_add(1, Ordering::Relaxed);
        async move {
            let users: Vec<String> = (0..workers * per_worker)
                .map(|i| format!("j-{}-{r}-{i}", crate::tag()))
                .collect();
            let access = sign_in_all(&api, &users, &signed).await?;
            let mut pool = vec![Vec::with_capacity(per_worker); workers];
            for (i, pair) in users.into_iter().zip(access).enumerate() {
                pool[i % workers].push(pair);
            }
            Ok::<_, anyhow::Error>(Arc::new(pool))
        }
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
    let warm = join(None).await?;
    if warm.ok == 0 {
        anyhow::bail!("no join was answered in the warm-up: is {concert} seeded?");
    }
    // Each round's new users: twice what the warm-up's rate would use, per worker.
    let per_worker = ((warm.rate() * secs * 2.0) as usize)
        .div_ceil(workers)
        .max(16);
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
                0 => {
                    let pool = new_users(per_worker).await?;
                    keep(&mut new, join(Some(pool)).await?)
                }
                1 => keep(&mut again, join(None).await?),
                2 => keep(&mut bare, no_store().await?),
                _ => keep(&mut script, raw_run().await),
            }
        }
    }
    let after = evalsha_stats().await;
    let [new, again, bare, script] = [new, again, bare, script].map(|r| r.expect("every kind ran"));

    let pass = report(workers, secs, &new, &again, &bare, &script, before, after)?;
    println!("{signed}\n");
    Ok(pass)
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

/// The sign-ins of the run, all of them ahead of the timed rounds: how many, and their time.
#[derive(Clone, Default)]
struct SignIns(Arc<std::sync::Mutex<(u64, Duration)>>);

impl std::fmt::Display for SignIns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (n, took) = *self.0.lock().expect("not poisoned");
        write!(
            f,
            "Sign-ins (`POST /local/sign-in`, the local issuer's RS256 signature; each user once, \
             ahead of the rounds, not in the rates above): {n} at {:.0}/s.",
            n as f64 / took.as_secs_f64().max(1e-9)
        )
    }
}

/// Signs every one of `users` in, [`SIGN_INS_AT_ONCE`] at a time: each one's
/// `Authorization` value, in order.
async fn sign_in_all(api: &Api, users: &[String], signed: &SignIns) -> anyhow::Result<Vec<String>> {
    let started = Instant::now();
    let access: Vec<String> = futures::stream::iter(users)
        .map(|user| async move {
            api.access_token(user)
                .await
                .map(|token| format!("Bearer {token}"))
        })
        .buffered(SIGN_INS_AT_ONCE)
        .try_collect()
        .await?;
    let mut total = signed.0.lock().expect("not poisoned");
    total.0 += users.len() as u64;
    total.1 += started.elapsed();
    Ok(access)
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
