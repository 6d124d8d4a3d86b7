//! `load scale`: a line of a million, measured on the real scripts, not over HTTP. It starts
//! its own redis-server (in memory, SCALE_REDIS_PORT, default 6387), fills one concert's line
//! through pipelined EVALSHA of the ISSUE script, and at 1,000 / 100,000 / 1,000,000 waiting
//! reads Redis's own time per poll (INFO commandstats) at the head, middle and tail of the line.
//! At each, the polls a second the line's own hints ask for, at the settings given (the
//! defaults unless set). Then: memory per waiting token, the issue rate into the full line, the
//! largest wave of polls a million joining within a minute would make (`waves`, a simulation by
//! the hints' model), and the slowest single script call (SLOWLOG), upkeep that admits 1,000
//! and 10,000 at once included. Last, the opening of a pre-queue of 1,000,000 on a second
//! concert: the joins before it, and the first polls after it, each alone, against the polls
//! that follow. The summary (`scale: ...`) is the last line that starts with `scale:`.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use redis::aio::MultiplexedConnection;
use redis::Value;
use shared::domain::queue::LineControls;
use shared::domain::queue::Pacing;
use shared::domain::token::TokenId;
use shared::domain::ConcertId;
use shared::domain::UserId;
use shared::flows::queue::pacing;
use shared::settings::Settings;
use shared::store::scripts::{
    common_args, controls_args, fair_args, issue_source, jitter_draw, status_source, LineKeys, Who,
};

mod opening;
mod waves;

/// The line's sizes at which polls are measured, and the last is the line's length.
const CHECKPOINTS: [usize; 3] = [1_000, 100_000, 1_000_000];
/// Admitted at once; the rest wait.
const ACTIVE_LIMIT: u32 = 100;
/// Calls per pipeline, and pipelines in flight.
const PIPELINE: usize = 500;
const IN_FLIGHT: usize = 4;
/// Polls per measured group (head, middle, tail).
const POLLS: usize = 20_000;
/// Tokens issued into the full line to measure the issue rate.
const MORE: usize = 100_000;
/// SLOWLOG keeps every call slower than this.
const SLOW_US: u64 = 200;
/// Joins before the opening.
const PRE_QUEUE: usize = 1_000_000;
/// The first polls after the opening, each measured alone.
const FIRST_POLLS: usize = 5;

#[derive(Clone)]
struct Line {
    conn: MultiplexedConnection,
    issue_sha: String,
    status_sha: String,
    concert: ConcertId,
    keys: Vec<String>,
    common: Vec<String>,
    fair: [String; 2],
}

impl Line {
    /// The line's keys, then the caller's fair-use bucket (KEYS[9]).
    fn keys_with(&self, who: Who<'_>) -> Vec<String> {
        let mut keys = self.keys.clone();
        keys.push(LineKeys::fair("scale", &self.concert, who));
        keys
    }

    fn issue(&self, user: &str, id: &TokenId) -> redis::Cmd {
        use rand::Rng;
        let draw = rand::rng().random_range(0..shared::store::scripts::PRE_QUEUE_DRAWS);
        let buyer = UserId::parse(user).expect("a user ID");
        let keys = self.keys_with(Who::Buyer(&buyer));
        let mut c = redis::cmd("EVALSHA");
        c.arg(&self.issue_sha).arg(keys.len()).arg(&keys);
        c.arg(&self.common).arg(user).arg(id.as_str()).arg(draw);
        c.arg(&self.fair).arg(jitter_draw());
        c
    }

    /// Writes the line's mirror of the concert's controls, as the operator API does.
    async fn mirror(&self, controls: &LineControls) -> anyhow::Result<()> {
        let mut with = self.common[..5].to_vec();
        with.extend(controls_args(Some(controls)));
        with.extend_from_slice(&self.common[9..]);
        let nobody = TokenId::generate();
        let keys = self.keys_with(Who::Holder(&nobody));
        let mut c = redis::cmd("EVALSHA");
        c.arg(&self.status_sha).arg(keys.len()).arg(&keys);
        c.arg(&with).arg(nobody.as_str()).arg("0").arg("");
        c.arg(&self.fair).arg(jitter_draw());
        self.run(vec![c]).await?;
        Ok(())
    }

    fn poll(&self, id: &TokenId, limit: u32) -> redis::Cmd {
        let keys = self.keys_with(Who::Holder(id));
        let mut c = redis::cmd("EVALSHA");
        c.arg(&self.status_sha).arg(keys.len()).arg(&keys);
        c.arg(limit)
            .arg(&self.common[1..])
            .arg(id.as_str())
            .arg("1")
            .arg("");
        c.arg(&self.fair).arg(jitter_draw());
        c
    }

    /// A poll that brings the line's controls (the defaults, as [`Line::mirror`] first wrote
    /// them).
    fn poll_with_controls(&self, id: &TokenId) -> redis::Cmd {
        let mut with = self.common[..5].to_vec();
        with.extend(controls_args(Some(&LineControls::default())));
        with.extend_from_slice(&self.common[9..]);
        let keys = self.keys_with(Who::Holder(id));
        let mut c = redis::cmd("EVALSHA");
        c.arg(&self.status_sha).arg(keys.len()).arg(&keys);
        c.arg(&with).arg(id.as_str()).arg("1").arg("");
        c.arg(&self.fair).arg(jitter_draw());
        c
    }

    /// Runs `cmds` as [`Line::run`] does; every reply.
    async fn run_all(&self, cmds: Vec<redis::Cmd>) -> anyhow::Result<Vec<Value>> {
        let mut all = Vec::with_capacity(cmds.len());
        for chunk in cmds.chunks(PIPELINE * IN_FLIGHT) {
            let replies = futures::future::try_join_all(chunk.chunks(PIPELINE).map(|part| {
                let mut conn = self.conn.clone();
                let mut pipe = redis::pipe();
                for c in part {
                    pipe.add_command(c.clone());
                }
                async move { pipe.query_async::<Vec<Value>>(&mut conn).await }
            }))
            .await
            .context("a pipeline of script calls")?;
            all.extend(replies.into_iter().flatten());
        }
        Ok(all)
    }

    /// Runs `cmds` as pipelines of [`PIPELINE`], [`IN_FLIGHT`] at once; the last reply.
    async fn run(&self, cmds: Vec<redis::Cmd>) -> anyhow::Result<Option<Value>> {
        let mut last = None;
        let mut chunks = cmds.chunks(PIPELINE).peekable();
        while chunks.peek().is_some() {
            let batch: Vec<_> = chunks.by_ref().take(IN_FLIGHT).collect();
            let replies = futures::future::try_join_all(batch.into_iter().map(|chunk| {
                let mut conn = self.conn.clone();
                let mut pipe = redis::pipe();
                for c in chunk {
                    pipe.add_command(c.clone());
                }
                async move { pipe.query_async::<Vec<Value>>(&mut conn).await }
            }))
            .await
            .context("a pipeline of script calls")?;
            if let Some(v) = replies.into_iter().flatten().last() {
                if let Value::ServerError(e) = &v {
                    bail!("a script failed: {e:?}");
                }
                last = Some(v);
            }
        }
        Ok(last)
    }

    async fn info(&self, section: &str) -> anyhow::Result<String> {
        let mut conn = self.conn.clone();
        Ok(redis::cmd("INFO")
            .arg(section)
            .query_async(&mut conn)
            .await?)
    }

    async fn command(&self, args: &[&str]) -> anyhow::Result<Value> {
        let mut conn = self.conn.clone();
        let mut c = redis::cmd(args[0]);
        for a in &args[1..] {
            c.arg(*a);
        }
        Ok(c.query_async(&mut conn).await?)
    }

    /// Redis's own µs per EVALSHA since the last CONFIG RESETSTAT.
    async fn usec_per_call(&self) -> anyhow::Result<f64> {
        let stats = self.info("commandstats").await?;
        field(&stats, "cmdstat_evalsha:", "usec_per_call=").context("no EVALSHA counted")
    }

    async fn used_memory(&self) -> anyhow::Result<f64> {
        let mem = self.info("memory").await?;
        field(&mem, "used_memory:", "").context("used_memory")
    }
}

/// The number after `key` (and after `sub` within its line).
fn field(info: &str, line: &str, sub: &str) -> Option<f64> {
    let rest = info.lines().find_map(|l| l.strip_prefix(line))?;
    let from = rest.find(sub)? + sub.len();
    let value: String = rest[from..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    value.parse().ok()
}

/// One row of the poll table.
struct PollRow {
    waiting: usize,
    head: f64,
    middle: f64,
    tail: f64,
    hinted: Hinted,
}

/// Waiters polled one by one at the front, where the hints are short and a few polls a second
/// each; past them, one in `n / SAMPLED` stands for those around it.
const FRONT: usize = 2_000;
const SAMPLED: usize = 20_000;

/// The polls a second the line's own hints ask for, its waiters polling as told: beyond the
/// head, and the head's (expected in within 10 s, told 2 s). From one poll of each waiter of
/// the front and of a sample of the rest, each answer's `pollAfterSeconds` (jitter and all).
#[derive(Debug, Clone, Copy, Default)]
struct Hinted {
    beyond: f64,
    head: f64,
    admissions: u64,
    longest: u64,
}

async fn hinted(line: &Line, waiters: &[TokenId], slowest: f64) -> anyhow::Result<Hinted> {
    let n = waiters.len();
    let step = (n.saturating_sub(FRONT) / SAMPLED).max(1);
    let picks: Vec<(usize, f64)> = (0..n.min(FRONT))
        .map(|i| (i, 1.0))
        .chain(
            (FRONT..n)
                .step_by(step)
                .map(|i| (i, step.min(n - i) as f64)),
        )
        .collect();
    // Each with the controls, as a caller that read them: the line's recheck (every 10 s)
    // never answers one of these "ask me again".
    let cmds = picks
        .iter()
        .map(|(i, _)| line.poll_with_controls(&waiters[*i]))
        .collect();
    let replies = line.run_all(cmds).await?;
    let mut sum = Hinted::default();
    for ((_, weight), reply) in picks.iter().zip(replies) {
        let Value::Array(v) = reply else {
            bail!("a poll answered {reply:?}");
        };
        let n = |i: usize| match v.get(i) {
            Some(Value::BulkString(b)) => String::from_utf8_lossy(b).parse::<u64>().unwrap_or(0),
            _ => 0,
        };
        // Admitted since it joined (ACTIVE), or admitted and idled out since (UNKNOWN): the
        // front moves while the line fills. Neither polls as a waiter.
        if !matches!(v.first(), Some(Value::BulkString(k)) if k == b"WAITING") {
            continue;
        }
        let (position, admissions, hint) = (n(2), n(3), n(9).max(1));
        let r = Pacing::rate(admissions, slowest);
        if position as f64 / r <= shared::domain::queue::HEAD_SECONDS {
            sum.head += weight / hint as f64;
        } else {
            sum.beyond += weight / hint as f64;
        }
        sum.admissions = admissions;
        sum.longest = sum.longest.max(hint);
    }
    Ok(sum)
}

/// On a machine of more than one core, redis-server gets the last core to itself and this tool
/// the others, so the timings are Redis's work rather than its waiting for the CPU (the
/// client's four pipelines would otherwise preempt it mid-script). Best effort: `taskset`.
fn pin(redis: Option<u32>) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let Some(pid) = redis.filter(|_| cores > 1) else {
        return;
    };
    let last = (cores - 1).to_string();
    let rest = format!("0-{}", cores.saturating_sub(2));
    let set = |cpus: &str, pid: u32| {
        std::process::Command::new("taskset")
            .args(["-a", "-p", "-c", cpus, &pid.to_string()])
            .stdout(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if set(&last, pid) && set(&rest, std::process::id()) {
        eprintln!("scale: redis-server on core {last}, this tool on {rest}");
    }
}

pub async fn run(port: u16) -> anyhow::Result<bool> {
    let started = Instant::now();
    let dir = std::env::temp_dir().join(format!("load-scale-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    if stack::port_open(port) {
        bail!("port {port} is taken (SCALE_REDIS_PORT picks another)");
    }
    let mut server = stack::Redis::new(port)
        .dir(&dir)
        .spawn(dir.join("redis.log"))?;
    server.wait_ready(Duration::from_secs(10))?;
    pin(server.pid());
    let result = measure(port, started).await;
    let _ = server.stop();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn measure(port: u16, started: Instant) -> anyhow::Result<bool> {
    // The defaults, but nobody drops out for being idle while the line fills: this measures
    // the scripts, not the clients.
    let lookup = |k: &str| match k {
        "QUEUE_ACTIVE_LIMIT" => Some(ACTIVE_LIMIT.to_string()),
        "WAITING_TOKEN_IDLE_SECONDS" => Some("86400".into()),
        // Each token is polled thousands of times in a row: fair use would refuse most.
        "BUYER_RATE_PER_SECOND" | "BUYER_BURST" => Some("1000000".into()),
        _ => std::env::var(k).ok(),
    };
    let settings = Settings::from_lookup(lookup)?;
    let slowest = shared::flows::queue::slowest_rate(&settings, ACTIVE_LIMIT);
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}"))?;
    // A pipeline of 500 scripts, four in flight, on a machine shared with other work: the
    // client's default 500 ms for an answer is too short to mean anything here.
    let patient =
        redis::AsyncConnectionConfig::new().set_response_timeout(Some(Duration::from_secs(60)));
    let conn = client
        .get_multiplexed_async_connection_with_config(&patient)
        .await?;
    let mut c = conn.clone();
    let issue_sha: String = redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg(issue_source())
        .query_async(&mut c)
        .await?;
    let status_sha: String = redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg(status_source())
        .query_async(&mut c)
        .await?;
    let concert = ConcertId::parse("scale").expect("a concert ID");
    let line = Line {
        conn,
        issue_sha,
        status_sha,
        keys: LineKeys::new("scale", &concert).0.to_vec(),
        concert,
        common: common_args(&settings, None),
        fair: fair_args(&settings),
    };
    line.mirror(&LineControls::default()).await?;
    line.command(&[
        "CONFIG",
        "SET",
        "slowlog-log-slower-than",
        &SLOW_US.to_string(),
    ])
    .await?;
    line.command(&["CONFIG", "SET", "slowlog-max-len", "1024"])
        .await?;
    line.command(&["SLOWLOG", "RESET"]).await?;
    let empty = line.used_memory().await?;

    // The first ACTIVE_LIMIT are admitted at once; everyone after them waits.
    let admitted = ACTIVE_LIMIT as usize;
    let mut ids: Vec<TokenId> = Vec::with_capacity(admitted + CHECKPOINTS[2] + MORE);
    let mut rows = Vec::new();
    let mut fill_time = Duration::ZERO;
    for &waiting in &CHECKPOINTS {
        let from = ids.len();
        let to = admitted + waiting;
        let fresh: Vec<TokenId> = (from..to).map(|_| TokenId::generate()).collect();
        let cmds = fresh
            .iter()
            .enumerate()
            .map(|(i, id)| line.issue(&format!("user-{}", from + i), id))
            .collect();
        let t = Instant::now();
        line.run(cmds).await?;
        fill_time += t.elapsed();
        ids.extend(fresh);
        let waiters = &ids[admitted..];
        let group = |at: usize| -> Vec<TokenId> {
            let at = at.min(waiters.len() - 100);
            waiters[at..at + 100].to_vec()
        };
        let mut per = Vec::new();
        for g in [group(0), group(waiting / 2), group(waiting - 100)] {
            line.command(&["CONFIG", "RESETSTAT"]).await?;
            let cmds = (0..POLLS)
                .map(|i| line.poll(&g[i % g.len()], ACTIVE_LIMIT))
                .collect();
            line.run(cmds).await?;
            per.push(line.usec_per_call().await?);
        }
        let hinted = hinted(&line, waiters, slowest).await?;
        eprintln!(
            "scale: {waiting} waiting, polls {:.1} / {:.1} / {:.1} µs, hinted {:.0} + {:.1} polls/s",
            per[0], per[1], per[2], hinted.beyond, hinted.head
        );
        rows.push(PollRow {
            waiting,
            head: per[0],
            middle: per[1],
            tail: per[2],
            hinted,
        });
    }
    let full = line.used_memory().await?;
    let mut by_key = Vec::new();
    for key in &line.keys {
        if let Value::Int(n) = line
            .command(&["MEMORY", "USAGE", key, "SAMPLES", "10000"])
            .await?
        {
            by_key.push((key.rsplit(':').next().unwrap_or(key).to_owned(), n));
        }
    }
    let total = ids.len();
    let bytes_per_waiter = (full - empty) / total as f64;

    eprintln!("scale: {MORE} more into the full line");
    // Into a line of 1,000,000: this many more.
    let fresh: Vec<TokenId> = (0..MORE).map(|_| TokenId::generate()).collect();
    let cmds = fresh
        .iter()
        .enumerate()
        .map(|(i, id)| line.issue(&format!("more-{i}"), id))
        .collect();
    line.command(&["CONFIG", "RESETSTAT"]).await?;
    let t = Instant::now();
    line.run(cmds).await?;
    let issue_wall = t.elapsed();
    let issue_us = line.usec_per_call().await?;
    let issue_per_s = MORE as f64 / issue_wall.as_secs_f64();
    ids.extend(fresh);

    eprintln!("scale: the waves of a million joining within a minute (a simulation)");
    let at_settings = pacing(&settings);
    let waves: Vec<(usize, waves::Wave, waves::Wave)> = [600, 1_200]
        .into_iter()
        .map(|window| {
            let wave = |jitter| {
                let limit = u64::from(ACTIVE_LIMIT);
                waves::largest(&at_settings, slowest, 1_000_000, limit, jitter, window)
            };
            (window, wave(true), wave(false))
        })
        .collect();

    eprintln!("scale: upkeep freeing many places at once");
    // Upkeep that frees 1,000 and then 10,000 places at once (a raised limit): each call admits
    // a bounded batch; polls until all are in. Every call timed by SLOWLOG.
    let mut upkeep = Vec::new();
    for more in [1_000u32, 10_000] {
        let limit = ACTIVE_LIMIT + more + if more == 10_000 { 1_000 } else { 0 };
        let t = Instant::now();
        let mut calls = 0;
        let want = (limit - ACTIVE_LIMIT) as usize;
        loop {
            calls += 1;
            let head = &ids[admitted + want - 1];
            let reply = line.run(vec![line.poll(head, limit)]).await?;
            if matches!(&reply, Some(Value::Array(v)) if matches!(v.first(), Some(Value::BulkString(k)) if k == b"ACTIVE"))
            {
                break;
            }
            if calls > 10_000 {
                bail!("{more} places were never filled");
            }
        }
        upkeep.push((more, calls, t.elapsed()));
    }
    // (µs, the script: ISSUE or STATUS, and the limit it was called with).
    let text = |v: &Value| match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        other => format!("{other:?}"),
    };
    let mut slow: Vec<(i64, String)> = match line.command(&["SLOWLOG", "GET", "1024"]).await? {
        Value::Array(entries) => entries
            .iter()
            .filter_map(|e| match e {
                Value::Array(f) => match (f.get(2), f.get(3)) {
                    (Some(Value::Int(us)), Some(Value::Array(argv))) => {
                        let script = match argv.get(1).map(text) {
                            Some(sha) if sha == line.issue_sha => "ISSUE",
                            Some(sha) if sha == line.status_sha => "STATUS",
                            _ => "other",
                        };
                        // EVALSHA sha 9 keys..., then ARGV: ARGV[1] at 12, ARGV[10] at 21.
                        let limit = argv.get(12).map(text).unwrap_or_default();
                        let user = match script {
                            "ISSUE" => format!(" {}", argv.get(21).map(text).unwrap_or_default()),
                            _ => String::new(),
                        };
                        Some((*us, format!("{script} limit={limit}{user}")))
                    }
                    _ => None,
                },
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    // The scripts only: MEMORY USAGE of a key of a million entries is this tool's own.
    slow.retain(|(_, what)| !what.starts_with("other"));
    slow.sort_by_key(|s| std::cmp::Reverse(s.0));
    let max_script_ms = slow.first().map_or(0, |s| s.0) as f64 / 1000.0;
    let over_5ms = slow.iter().filter(|s| s.0 > 5_000).count();
    let stats = line.info("latencystats").await?;
    let p999 = field(&stats, "latency_percentiles_usec_evalsha:", "p99.9=").unwrap_or(0.0);

    eprintln!("scale: the opening of a pre-queue of {PRE_QUEUE}");
    let open = opening::opening(&line).await?;

    // The report.
    println!();
    println!(
        "Redis time per poll (µs, INFO commandstats; {POLLS} polls of 100 tokens each), and the \
         polls a second the line's own hints ask for (QUEUE_POLL_MAX_SECONDS={}, budget {}; \
         each waiter of the front and a sample of the rest polled once, jitter and all):",
        at_settings.max_seconds, at_settings.budget
    );
    println!(
        "| waiting | poll µs, head | middle | tail | hinted polls/s beyond the head | at the head | longest hint |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for r in &rows {
        println!(
            "| {} | {:.1} | {:.1} | {:.1} | {:.0} | {:.1} | {} s |",
            r.waiting, r.head, r.middle, r.tail, r.hinted.beyond, r.hinted.head, r.hinted.longest
        );
    }
    println!();
    println!(
        "The largest wave: 1,000,000 join within one minute (limit {ACTIVE_LIMIT}, each place \
         freed after 60-300 s); the most polls their hints ask for in any one second (a \
         simulation by the hints' model):"
    );
    println!("| within | with jitter | without |");
    println!("| --- | ---: | ---: |");
    for (window, with, without) in &waves {
        println!(
            "| the first {} minutes | {} polls (second {}) | {} polls (second {}) |",
            window / 60,
            with.polls,
            with.second,
            without.polls,
            without.second
        );
    }
    let poll_1k = (rows[0].head + rows[0].middle + rows[0].tail) / 3.0;
    let poll_1m = (rows[2].head + rows[2].middle + rows[2].tail) / 3.0;
    println!();
    println!(
        "fill: {} tokens in {:.1} s ({:.0}/s)",
        admitted + CHECKPOINTS[2],
        fill_time.as_secs_f64(),
        (admitted + CHECKPOINTS[2]) as f64 / fill_time.as_secs_f64()
    );
    println!(
        "memory: {:.0} bytes per token ({} tokens, used_memory {:.0} MB)",
        bytes_per_waiter,
        total,
        (full - empty) / 1e6
    );
    println!(
        "issue into a line of {}: {MORE} in {:.2} s = {issue_per_s:.0}/s ({issue_us:.1} µs of Redis each)",
        CHECKPOINTS[2],
        issue_wall.as_secs_f64()
    );
    for (more, calls, took) in &upkeep {
        println!(
            "upkeep: {more} places freed at once, filled by {calls} polls in {:.1} ms",
            took.as_secs_f64() * 1000.0
        );
    }
    println!(
        "memory by key: {}",
        by_key
            .iter()
            .map(|(k, n)| format!("{k} {:.0} B/token", *n as f64 / total as f64))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "slowest script calls: {max_script_ms:.2} ms ({} calls over {SLOW_US} µs, {over_5ms} over 5 ms; \
         p99.9 of the last phase {p999:.0} µs): {}",
        slow.len(),
        slow.iter()
            .take(5)
            .map(|(us, what)| format!("{us} µs {what}"))
            .collect::<Vec<_>>()
            .join(", ")
    );

    println!(
        "pre-queue: {PRE_QUEUE} joins before the opening in {:.1} s ({:.0}/s, {:.1} µs of Redis each); \
         the first {FIRST_POLLS} polls after it: {} µs (each alone, upkeep included); then {:.1} µs a poll \
         ({POLLS} polls of pre-queue tokens); slowest script call of the phase {:.2} ms ({} over 5 ms)",
        open.fill.as_secs_f64(),
        PRE_QUEUE as f64 / open.fill.as_secs_f64(),
        open.join_us,
        open.first
            .iter()
            .map(|us| format!("{us:.0}"))
            .collect::<Vec<_>>()
            .join(", "),
        open.after_us,
        open.max_script_ms,
        open.over_5ms
    );

    let last = rows[rows.len() - 1].hinted;
    let hinted = last.beyond + last.head;
    let mut misses = Vec::new();
    let first_max = open.first.iter().copied().fold(0.0, f64::max);
    if first_max > 5_000.0 || open.max_script_ms > 5.0 {
        misses.push(format!(
            "the opening: first polls up to {first_max:.0} µs, slowest call {:.2} ms > 5",
            open.max_script_ms
        ));
    }
    if poll_1m > 1.5 * poll_1k {
        misses.push(format!(
            "poll_us_1m {poll_1m:.1} > 1.5 x poll_us_1k {poll_1k:.1}"
        ));
    }
    if bytes_per_waiter > 300.0 {
        misses.push(format!("bytes_per_waiter {bytes_per_waiter:.0} > 300"));
    }
    for r in &rows {
        if r.hinted.beyond > at_settings.budget {
            misses.push(format!(
                "{} waiting: hinted polls beyond the head {:.0} > QUEUE_POLL_BUDGET {}",
                r.waiting, r.hinted.beyond, at_settings.budget
            ));
        }
    }
    if max_script_ms > 5.0 {
        misses.push(format!("max_script_ms {max_script_ms:.2} > 5"));
    }
    if issue_per_s < 20_000.0 {
        misses.push(format!("issue_per_s {issue_per_s:.0} < 20000"));
    }
    for m in &misses {
        println!("miss: {m}");
    }
    // The summary is the last line that starts with `scale:`: a reader takes it from there.
    let wave = |window: usize, jitter: bool| {
        waves
            .iter()
            .find(|w| w.0 == window)
            .map_or(0, |w| if jitter { w.1.polls } else { w.2.polls })
    };
    println!(
        "scale: waiting={} poll_us_1k={poll_1k:.1} poll_us_1m={poll_1m:.1} bytes_per_waiter={bytes_per_waiter:.0} \
         issue_per_s={issue_per_s:.0} hinted_polls_per_s={hinted:.0} hinted_polls_per_s_1k={:.0} \
         hinted_polls_per_s_100k={:.0} largest_wave_10min={} largest_wave_10min_unjittered={} \
         largest_wave_20min={} largest_wave_20min_unjittered={} max_script_ms={max_script_ms:.2} \
         prequeue={PRE_QUEUE} prequeue_join_us={:.1} first_poll_us={first_max:.0} poll_after_opening_us={:.1} \
         prequeue_max_script_ms={:.2} took_s={:.0}",
        CHECKPOINTS[2],
        rows[0].hinted.beyond + rows[0].hinted.head,
        rows[1].hinted.beyond + rows[1].hinted.head,
        wave(600, true),
        wave(600, false),
        wave(1_200, true),
        wave(1_200, false),
        open.join_us,
        open.after_us,
        open.max_script_ms,
        started.elapsed().as_secs_f64()
    );
    Ok(true)
}
