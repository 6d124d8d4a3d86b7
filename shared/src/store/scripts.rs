//! Every Redis script, and the typed calls that run them. Each queue operation is one atomic
//! round trip (EVALSHA, falling back to EVAL once after a Redis restart), O(log N) in the
//! number waiting, plus a bounded batch of upkeep (see `queue_lib.lua`).
//!
//! One concert's line is under one hash tag, `{p:c}` for key prefix `p` and concert `c`, so it
//! lives in one cluster slot and different concerts spread over the slots. Every script
//! declares all the keys it touches (`KEYS[1..8]`, [`LineKeys`]), so a cluster routes it and a
//! key outside the slot fails (CROSSSLOT) rather than working on one node only:
//! - `{p:c}:users` HASH userId -> token ID, so asking again returns the same token
//! - `{p:c}:tok`   HASH token ID -> `W:0:user` | `A:<activeUntil ms>:user`
//! - `{p:c}:wait`  ZSET token ID -> place: arrival sequence (first come, first served), or a
//!   random negative score for a join before the opening (the pre-queue, shuffled as it fills)
//! - `{p:c}:seen`  ZSET token ID -> last poll (ms), for dropping idle waiters
//! - `{p:c}:act`   ZSET token ID -> activeUntil (ms)
//! - `{p:c}:adm`   ZSET token ID -> admission time (ms), the last minute of admissions
//! - `{p:c}:meta`  HASH seq (arrival counter), due, limit (see `queue_lib.lua`), and the mirror
//!   of the concert's controls: cv (its revision), cl (activeLimit), cp (paused), co (opensAt),
//!   ck (when last confirmed from DynamoDB)
//! - `{p:c}:idle`  ZSET ACTIVE token ID -> when it ends for want of calls (ms)
//! - `{p:c}:fair:u:<userId>` STRING the buyer's fair-use bucket on this line (see [`fair`]),
//!   ending by itself when full again; `{p:c}:fair:t:<tokenId>` before the buyer is known
//!
//! Every one of them ends (PEXPIRE) a while after the line's last write; an ended token's
//! record is deleted at once, since a signed token the line does not know is TOKEN_EXPIRED.
//! Time is Redis's own clock (TIME), so every function instance agrees on it.
//!
//! The scripts themselves are the `.lua` files in `scripts/`, included here as text; the queue
//! scripts each start with `queue_lib.lua`.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use redis::Script;

use crate::domain::queue::{
    LineControls, Standing, TokenStatus, ADMISSION_WINDOW_MS, JITTER_DRAWS,
};
use crate::domain::token::{SignedToken, TokenId, TokenKey};
use crate::domain::{ConcertDate, ConcertId, UserId};
use crate::error::StoreError;
use crate::settings::Settings;
use crate::store::redis::RedisStore;

pub mod fair;

/// Shared by every queue script. ARGV[1..5]: default active limit, active ms, waiting idle ms,
/// window ms, active idle ms; ARGV[6..9]: the controls to mirror, if the caller read them;
/// ARGV[10..11]: the longest hint (s) and the poll budget. Each script's own from ARGV[12].
///
/// Upkeep (retiring expired and idle tokens, admitting into free places) runs only when it can
/// have work: `due` holds the earliest instant that can change who is in line (the first
/// active token's end, the first waiter's drop-out deadline), and every write that adds an
/// earlier one lowers it. Upkeep leaves the concert without waiters, without a free place, or
/// due again at once (a full batch), so until `due` passes, a poll is a read: two HMGETs, and
/// for a waiter ZRANK, ZCOUNT, ZCARD, the pace's HMGET and ZADD XX of its new deadline.
const QUEUE_LIB: &str = include_str!("scripts/queue_lib.lua");

/// `domain::queue::Pacing` in Lua: every queue script starts with it.
const PACING_LIB: &str = include_str!("scripts/pacing_lib.lua");

/// ARGV[12..17]: user, a fresh token ID, the pre-queue's random draw, fair use's rate and
/// burst, the hint's jitter draw; KEYS[9] the user's bucket.
const ISSUE: &str = include_str!("scripts/issue.lua");

/// ARGV[12..17]: token ID, '1' to count this as a call that keeps the token, the buyer ('' for
/// its holder), fair use's rate and burst, the hint's jitter draw; KEYS[9] the buyer's bucket.
const STATUS: &str = include_str!("scripts/status.lua");

/// ARGV[12]: token ID. Ends it for good and frees its place.
const SPEND: &str = include_str!("scripts/spend.lua");

/// ARGV[12..14]: token ID, an instant, a reservation ID: a live ACTIVE token counts as active
/// until then (that hold of its user ends then).
const KEEP: &str = include_str!("scripts/keep.lua");

/// ARGV[12..13]: token ID, a reservation ID its holder released: the token's idle clock
/// restarts now, unless another of its user's live holds keeps it longer.
const RELEASE: &str = include_str!("scripts/release.lua");

/// Writes the controls mirror given in ARGV[6..9] (the work is `queue_lib.lua`'s).
const CONTROLS: &str = include_str!("scripts/controls.lua");

/// Reads the line's figures for an operator; ARGV[4] is the admission window.
const FIGURES: &str = include_str!("scripts/figures.lua");

/// A queue script as Redis runs it: the pacing and queue libraries, then the script.
fn queue_source(script: &str) -> String {
    format!("{PACING_LIB}{QUEUE_LIB}{script}")
}

static FIGURES_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(FIGURES));
static ISSUE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(&issue_source()));
static STATUS_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(&status_source()));
static SPEND_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(&queue_source(SPEND)));
static KEEP_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(&queue_source(KEEP)));
static RELEASE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(&queue_source(RELEASE)));
static CONTROLS_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(&queue_source(CONTROLS)));

/// Pre-queue places are drawn from `0..PRE_QUEUE_DRAWS` (the script places a join at
/// `base + 0.25 + draw / 2^53`, between everyone already in line and everyone after); two
/// places alike are ordered by their random token IDs.
pub const PRE_QUEUE_DRAWS: u64 = 1 << 52;

/// The arguments every queue script takes first (ARGV[1..11]): the settings, the controls to
/// mirror (read from DynamoDB) or none, and the pacing's settings.
pub fn common_args(settings: &Settings, controls: Option<&LineControls>) -> Vec<String> {
    let s = settings;
    let mut args = vec![
        s.queue_active_limit.to_string(),
        s.active_token_ttl.as_millis().to_string(),
        s.waiting_token_idle.as_millis().to_string(),
        ADMISSION_WINDOW_MS.to_string(),
        s.active_token_idle.as_millis().to_string(),
    ];
    args.extend(controls_args(controls));
    args.push(s.queue_poll_max.as_secs().to_string());
    args.push(s.queue_poll_budget.to_string());
    args
}

/// The hint's jitter draw, in `0..JITTER_DRAWS`, for the join's and the guard's script.
pub fn jitter_draw() -> u64 {
    use rand::Rng;
    rand::rng().random_range(0..JITTER_DRAWS)
}

/// `pacing_lib.lua` alone: pure functions, which the tests run beside the Rust model.
pub fn pacing_source() -> &'static str {
    PACING_LIB
}

/// ARGV[6..9]: the controls to mirror, or four empty strings for none.
pub fn controls_args(controls: Option<&LineControls>) -> [String; 4] {
    match controls {
        Some(c) => [
            c.version.to_string(),
            c.active_limit.map_or(String::new(), |l| l.to_string()),
            if c.paused { "1" } else { "0" }.to_owned(),
            c.opens_at
                .map_or(0, |at| at.timestamp_millis().max(0))
                .to_string(),
        ],
        None => ["", "", "", ""].map(String::from),
    }
}

/// The STATUS script as Redis runs it: fair use's, the pacing's and the queue's libraries,
/// then the script. (The queue scripts are read with `redis-cli --eval` the same way:
/// `cat fair_lib.lua pacing_lib.lua queue_lib.lua status.lua`.)
pub fn status_source() -> String {
    format!("{}{}", fair::FAIR_LIB, queue_source(STATUS))
}

/// The ISSUE script as Redis runs it.
pub fn issue_source() -> String {
    format!("{}{}", fair::FAIR_LIB, queue_source(ISSUE))
}

/// ARGV of the join's and the guard's fair use: rate, burst.
pub fn fair_args(settings: &Settings) -> [String; 2] {
    [
        settings.buyer_rate_per_second.to_string(),
        settings.buyer_burst.to_string(),
    ]
}

/// The hash tag of a concert's keys: its line and its dates cache.
pub fn concert_tag(prefix: &str, concert: &ConcertId) -> String {
    format!("{{{prefix}:{concert}}}")
}

/// A concert line's keys, in the order every queue script takes them as `KEYS`.
pub struct LineKeys(pub [String; 8]);

impl LineKeys {
    pub const NAMES: [&'static str; 8] =
        ["users", "tok", "wait", "seen", "act", "adm", "meta", "idle"];

    pub fn new(prefix: &str, concert: &ConcertId) -> Self {
        let tag = concert_tag(prefix, concert);
        Self(Self::NAMES.map(|name| format!("{tag}:{name}")))
    }

    /// The line's meta hash (its counters and the mirror of the concert's controls).
    pub fn meta(&self) -> &str {
        &self.0[6]
    }

    /// The fair-use bucket on this line of whoever presents a call (KEYS[9] of the join and
    /// the guard).
    pub fn fair(prefix: &str, concert: &ConcertId, who: Who<'_>) -> String {
        let tag = concert_tag(prefix, concert);
        match who {
            Who::Buyer(user) => format!("{tag}:fair:u:{user}"),
            Who::Holder(id) => format!("{tag}:fair:t:{id}"),
        }
    }
}

/// Who makes a guarded call: the signed-in buyer, or, before sign-in, whoever holds the token
/// (their bucket is the token's, and there is no one to bind it to).
#[derive(Debug, Clone, Copy)]
pub enum Who<'a> {
    Buyer(&'a UserId),
    Holder(&'a TokenId),
}

/// What asking for a token gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issued {
    New(TokenStatus),
    Existing(TokenStatus),
}

/// What the queue knows of a token we signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Live(TokenStatus),
    /// Expired, idle, spent by a payment, or forgotten: a signed token is ours, so it ended.
    Ended,
    /// Live, and another user's than the buyer's who presented it: nothing of it was touched.
    OtherUsers,
}

/// The waiting room's Redis side.
pub struct QueueScripts<'a> {
    redis: &'a RedisStore,
    settings: &'a Settings,
}

impl<'a> QueueScripts<'a> {
    pub fn new(redis: &'a RedisStore, settings: &'a Settings) -> Self {
        Self { redis, settings }
    }

    /// The script with the line's keys and the shared arguments (with `controls` to mirror).
    pub fn prepare(
        &self,
        script: &'static Script,
        concert: &ConcertId,
        controls: Option<&LineControls>,
    ) -> redis::ScriptInvocation<'static> {
        let mut inv = script.prepare_invoke();
        for key in LineKeys::new(self.redis.prefix(), concert).0 {
            inv.key(key);
        }
        for arg in common_args(self.settings, controls) {
            inv.arg(arg);
        }
        inv
    }

    /// The token, and how many tokens the call admitted (for the metrics); or the line asks
    /// for the concert's controls: call again with them.
    pub async fn issue(
        &self,
        user: &UserId,
        concert: &ConcertId,
        fresh: TokenId,
        controls: Option<LineControls>,
    ) -> Result<Controlled<(Issued, u32)>, StoreError> {
        use rand::Rng;
        let draw = rand::rng().random_range(0..PRE_QUEUE_DRAWS);
        let mut inv = self.prepare(&ISSUE_SCRIPT, concert, controls.as_ref());
        inv.key(LineKeys::fair(
            self.redis.prefix(),
            concert,
            Who::Buyer(user),
        ));
        inv.arg(user.as_str()).arg(fresh.as_str()).arg(draw);
        for a in fair_args(self.settings) {
            inv.arg(a);
        }
        inv.arg(jitter_draw());
        let reply: Vec<String> = self
            .redis
            .run(|mut c| async move { inv.invoke_async(&mut c).await })
            .await?;
        if let Some(early) = before_work(&reply) {
            return Ok(early);
        }
        let is_new = reply.get(5).is_some_and(|f| f == "NEW");
        let key = &self.settings.queue_token_key;
        let admitted = admitted(&reply);
        match parse_live(reply, concert, key)? {
            Some(status) if is_new => Ok(Controlled::Done((Issued::New(status), admitted))),
            Some(status) => Ok(Controlled::Done((Issued::Existing(status), admitted))),
            None => Err(StoreError::Unexpected(
                "an issued token was not live".into(),
            )),
        }
    }

    /// The token's state, for a call `who` makes with it (fair use counts it against their
    /// bucket; a buyer's call with another user's token is [`Lookup::OtherUsers`]); `poll`
    /// counts the call as activity that keeps the token (a waiter in line, an ACTIVE token
    /// from idling out). With how many tokens the call admitted. Or the line asks for the
    /// concert's controls (call again with them), or fair use refused the call.
    pub async fn status(
        &self,
        token: &SignedToken,
        who: Who<'_>,
        poll: bool,
        controls: Option<LineControls>,
    ) -> Result<Controlled<(Lookup, u32)>, StoreError> {
        let mut inv = self.prepare(&STATUS_SCRIPT, &token.concert, controls.as_ref());
        inv.key(LineKeys::fair(self.redis.prefix(), &token.concert, who));
        let buyer = match who {
            Who::Buyer(user) => user.as_str(),
            Who::Holder(_) => "",
        };
        inv.arg(token.id.as_str())
            .arg(if poll { "1" } else { "0" })
            .arg(buyer);
        for a in fair_args(self.settings) {
            inv.arg(a);
        }
        inv.arg(jitter_draw());
        let reply: Vec<String> = self
            .redis
            .run(|mut c| async move { inv.invoke_async(&mut c).await })
            .await?;
        if let Some(early) = before_work(&reply) {
            return Ok(early);
        }
        let key = &self.settings.queue_token_key;
        let admitted = admitted(&reply);
        if reply.first().is_some_and(|k| k == "OTHER") {
            return Ok(Controlled::Done((Lookup::OtherUsers, admitted)));
        }
        let lookup = parse_live(reply, &token.concert, key)?.map_or(Lookup::Ended, Lookup::Live);
        Ok(Controlled::Done((lookup, admitted)))
    }

    /// A live ACTIVE token counts as active until `until` (its user's hold `reservation` ends
    /// then). False when the token is not live and ACTIVE.
    pub async fn keep_active(
        &self,
        token: &SignedToken,
        until: DateTime<Utc>,
        reservation: &str,
    ) -> Result<bool, StoreError> {
        let mut inv = self.prepare(&KEEP_SCRIPT, &token.concert, None);
        inv.arg(token.id.as_str())
            .arg(until.timestamp_millis())
            .arg(reservation);
        let kept: i64 = self
            .redis
            .run(|mut c| async move { inv.invoke_async(&mut c).await })
            .await?;
        Ok(kept == 1)
    }

    /// The hold `reservation` was released by its holder: it no longer keeps the token
    /// active, whose idle clock restarts now (unless another live hold keeps it longer).
    /// False when the token is not live and ACTIVE.
    pub async fn hold_released(
        &self,
        token: &SignedToken,
        reservation: &str,
    ) -> Result<bool, StoreError> {
        let mut inv = self.prepare(&RELEASE_SCRIPT, &token.concert, None);
        inv.arg(token.id.as_str()).arg(reservation);
        let done: i64 = self
            .redis
            .run(|mut c| async move { inv.invoke_async(&mut c).await })
            .await?;
        Ok(done == 1)
    }

    /// Writes the line's mirror of the concert's controls, unless it holds a newer revision.
    /// Returns the revision it holds after.
    pub async fn mirror_controls(
        &self,
        concert: &ConcertId,
        controls: &LineControls,
    ) -> Result<u64, StoreError> {
        let inv = self.prepare(&CONTROLS_SCRIPT, concert, Some(controls));
        self.redis
            .run(|mut c| async move { inv.invoke_async(&mut c).await })
            .await
    }

    /// The line's figures; one read-only script.
    pub async fn figures(&self, concert: &ConcertId) -> Result<LineFigures, StoreError> {
        let inv = self.prepare(&FIGURES_SCRIPT, concert, None);
        let reply: Vec<u64> = self
            .redis
            .run(|mut c| async move { inv.invoke_async(&mut c).await })
            .await?;
        match reply[..] {
            [waiting, active, admitted_last_minute] => Ok(LineFigures {
                waiting,
                active,
                admitted_last_minute,
            }),
            _ => Err(StoreError::Unexpected(format!(
                "the figures script answered {} fields",
                reply.len()
            ))),
        }
    }

    /// Ends the token for good and frees its active place. Idempotent. Returns how many
    /// tokens the freed place admitted.
    pub async fn spend(&self, token: &SignedToken) -> Result<u32, StoreError> {
        let mut inv = self.prepare(&SPEND_SCRIPT, &token.concert, None);
        inv.arg(token.id.as_str());
        let admitted: u32 = self
            .redis
            .run(|mut c| async move { inv.invoke_async(&mut c).await })
            .await?;
        Ok(admitted)
    }
}

/// How many wait, how many are ACTIVE, how many were admitted in the last minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineFigures {
    pub waiting: u64,
    pub active: u64,
    pub admitted_last_minute: u64,
}

/// How many a queue script's answer says it admitted (the 2nd field of UNKNOWN and OTHER, the
/// 8th of a live answer's 10).
fn admitted(reply: &[String]) -> u32 {
    let at = match reply.first().map(String::as_str) {
        Some("UNKNOWN" | "OTHER") => 1,
        Some(_) if reply.len() == 10 => 7,
        _ => return 0,
    };
    reply.get(at).and_then(|n| n.parse().ok()).unwrap_or(0)
}

/// A queue script's answer, or what stopped it before its work: its asking for the concert's
/// controls (NOCTL: the line has no mirror of them, `mirrored` false, nobody can be admitted
/// without; or its mirror is due to be confirmed, `mirrored` true, the one it has may still
/// be used), or fair use refusing the call (SLOW: nothing was changed, and a call is let
/// through again after `retry_after_ms`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Controlled<T> {
    Done(T),
    Asked { mirrored: bool },
    TooFast { retry_after_ms: u64 },
}

impl<T> Controlled<T> {
    /// The answer, unless the script stopped before its work.
    pub fn done(self) -> Option<T> {
        match self {
            Controlled::Done(t) => Some(t),
            Controlled::Asked { .. } | Controlled::TooFast { .. } => None,
        }
    }
}

/// NOCTL or SLOW: the script stopped before its work.
fn before_work<T>(reply: &[String]) -> Option<Controlled<T>> {
    match reply.first()?.as_str() {
        "NOCTL" => Some(Controlled::Asked {
            mirrored: reply.get(2).is_some_and(|m| m == "M"),
        }),
        "SLOW" => Some(Controlled::TooFast {
            retry_after_ms: reply.get(1).and_then(|ms| ms.parse().ok()).unwrap_or(1_000),
        }),
        _ => None,
    }
}

/// Reads an ACTIVE or WAITING answer; UNKNOWN (not in the line, or past its time) is None.
fn parse_live(
    reply: Vec<String>,
    concert: &ConcertId,
    key: &TokenKey,
) -> Result<Option<TokenStatus>, StoreError> {
    let bad = || StoreError::Unexpected(format!("queue script answered {} fields", reply.len()));
    if reply.first().is_some_and(|k| k == "UNKNOWN") {
        return Ok(None);
    }
    if reply.len() < 10 {
        return Err(bad());
    }
    let id = TokenId::parse(&reply[6]).ok_or_else(bad)?;
    let number = |i: usize| reply[i].parse::<u64>().map_err(|_| bad());
    let user_id = UserId::parse(&reply[1]).map_err(|_| bad())?;
    let standing = match reply[0].as_str() {
        "ACTIVE" => {
            let until =
                DateTime::<Utc>::from_timestamp_millis(number(2)? as i64).ok_or_else(bad)?;
            Standing::Active { until }
        }
        "WAITING" => Standing::Waiting {
            position: number(2)?,
            recent_admissions: number(3)?,
            line: number(4)?,
        },
        "BEFORE" => Standing::PreQueue { line: number(4)? },
        _ => return Err(bad()),
    };
    let opens_at = match number(8)? {
        0 => None,
        ms => Some(DateTime::<Utc>::from_timestamp_millis(ms as i64).ok_or_else(bad)?),
    };
    // The hint the script gave, and set the waiter's drop-out deadline by; none once ACTIVE.
    let poll_after_seconds = match standing {
        Standing::Active { .. } => None,
        Standing::Waiting { .. } | Standing::PreQueue { .. } => Some(number(9)?),
    };
    Ok(Some(TokenStatus {
        token: key.sign(concert, &id),
        user_id,
        concert_id: concert.clone(),
        standing,
        poll_after_seconds,
        opens_at,
    }))
}

// ---------------------------------------------------------------------------------------
// The read caches (cache-aside): the concert's dates listing, and each date's seat map. Every
// change bumps a version; an entry counts only while its version is current, so a reader
// that computed before a change can never put back a view staler than that change.
//
// - `{p:c}:dates`          HASH v (version it was computed at), b (JSON body), expiring
// - `{p:c}:dates:v`        the listing's version counter
// - `{p:c}:map:<date>`     HASH v, b: the date's seat map (its sections and its holds)
// - `{p:c}:map:<date>:v`   the date's version counter
// - `<entry>:lead`         who is rebuilding a missing entry (SET NX, 2 s at most)
//
// A version counter ends a day after the last change, far longer than any read takes, so no
// reader can compute across its reset. A hold, payment or release of a date bumps both its
// counters at once, so the listing is recomputed from the seat maps, re-reading only the date
// that changed.

/// KEYS[1] entry, KEYS[2] version. Returns {version, body?}.
const CACHE_GET: &str = include_str!("scripts/cache_get.lua");

/// KEYS[1] entry, KEYS[2] version, KEYS[3] lead. ARGV: version read before computing, body,
/// ttl ms.
const CACHE_PUT: &str = include_str!("scripts/cache_put.lua");

const VERSION_LIFE_MS: i64 = 86_400_000;

/// A rebuild's claim ends by itself after this, should its reader die before `put`.
const LEAD_MS: u64 = 2_000;

static CACHE_GET_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(CACHE_GET));
static CACHE_PUT_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(CACHE_PUT));

/// A cache read: the version to compute against, and the body if it is current.
pub struct Cached {
    pub version: String,
    pub body: Option<String>,
}

/// Which view of a concert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View<'a> {
    Dates,
    SeatMap(&'a ConcertDate),
}

pub struct ReadCache<'a> {
    redis: &'a RedisStore,
}

impl<'a> ReadCache<'a> {
    pub fn new(redis: &'a RedisStore) -> Self {
        Self { redis }
    }

    /// Claims the rebuild of a missing view for `LEAD_MS` at most, so that the readers who
    /// miss together after a change read the tables once, not once each. `put` releases it.
    pub async fn lead(&self, concert: &ConcertId, view: View<'_>) -> Result<bool, StoreError> {
        let (entry, _) = self.keys(concert, view);
        let lead = format!("{entry}:lead");
        let claimed: Option<String> = self
            .redis
            .run(|mut c| async move {
                redis::cmd("SET")
                    .arg(&lead)
                    .arg(1)
                    .arg("NX")
                    .arg("PX")
                    .arg(LEAD_MS)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(claimed.is_some())
    }

    fn keys(&self, concert: &ConcertId, view: View<'_>) -> (String, String) {
        let tag = concert_tag(self.redis.prefix(), concert);
        let entry = match view {
            View::Dates => format!("{tag}:dates"),
            View::SeatMap(date) => format!("{tag}:map:{date}"),
        };
        let version = format!("{entry}:v");
        (entry, version)
    }

    pub async fn get(&self, concert: &ConcertId, view: View<'_>) -> Result<Cached, StoreError> {
        let (entry, version) = self.keys(concert, view);
        let mut inv = CACHE_GET_SCRIPT.key(entry);
        inv.key(version);
        let mut reply: Vec<String> = self
            .redis
            .run(|mut c| async move { inv.invoke_async(&mut c).await })
            .await?;
        let body = (reply.len() > 1).then(|| reply.remove(1));
        let version = reply.into_iter().next().unwrap_or_else(|| "0".into());
        Ok(Cached { version, body })
    }

    /// Stores `body` computed at `version`, unless the view changed since.
    pub async fn put(
        &self,
        concert: &ConcertId,
        view: View<'_>,
        version: &str,
        body: &str,
        ttl: std::time::Duration,
    ) -> Result<(), StoreError> {
        let (entry, version_key) = self.keys(concert, view);
        let lead = format!("{entry}:lead");
        let mut inv = CACHE_PUT_SCRIPT.key(entry);
        inv.key(version_key)
            .key(lead)
            .arg(version)
            .arg(body)
            .arg(ttl.as_millis().max(1) as u64);
        let _: i64 = self
            .redis
            .run(|mut c| async move { inv.invoke_async(&mut c).await })
            .await?;
        Ok(())
    }

    /// After a hold, payment, release or catalog change of `dates`: no reader sees the
    /// listing or those seat maps from before it. One atomic round trip (all in one slot).
    pub async fn invalidate(
        &self,
        concert: &ConcertId,
        dates: &[ConcertDate],
    ) -> Result<(), StoreError> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        let views = std::iter::once(View::Dates).chain(dates.iter().map(View::SeatMap));
        for view in views {
            let (entry, version) = self.keys(concert, view);
            pipe.incr(&version, 1)
                .ignore()
                .pexpire(&version, VERSION_LIFE_MS)
                .ignore()
                .del(entry)
                .ignore();
        }
        self.redis
            .run(|mut c| {
                let pipe = pipe.clone();
                async move { pipe.query_async::<()>(&mut c).await }
            })
            .await
    }
}
