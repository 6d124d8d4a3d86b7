//! Every Redis script, and the typed calls that run them. Each queue operation is one atomic
//! round trip (EVALSHA, falling back to EVAL once after a Redis restart), O(log N) in the
//! number waiting, plus O(M) for the M tokens it admits or retires.
//!
//! Keys per concert `c`, all under the `{prefix}` hash tag (one cluster slot):
//! - `{p}:q:c:waiting` ZSET token -> arrival sequence (first come, first served)
//! - `{p}:q:c:seen`    ZSET token -> last poll (ms), for dropping idle waiters
//! - `{p}:q:c:active`  ZSET token -> activeUntil (ms)
//! - `{p}:q:c:admits`  ZSET token -> admission time (ms), the last minute of admissions
//! - `{p}:q:c:users`   HASH userId -> live token, so asking again returns the same token
//! - `{p}:q:c:seq`     counter behind the arrival sequence
//! - `{p}:q:c:due`     HASH at (earliest instant, ms, upkeep can have work), limit (see `QUEUE_LIB`)
//! - `{p}:tok:t`       HASH u (user), c (concert), s (W|A|X), at (activeUntil), x (why ended)
//!
//! Time is Redis's own clock (TIME), so every function instance agrees on it.
//!
//! The scripts themselves are the `.lua` files in `scripts/`, included here as text; the queue
//! scripts each start with `queue_lib.lua`.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use redis::Script;

use crate::domain::queue::{Standing, TokenStatus, ADMISSION_WINDOW_MS};
use crate::domain::{ConcertId, QueueToken, UserId};
use crate::error::StoreError;
use crate::settings::Settings;
use crate::store::redis::RedisStore;

/// Shared by every queue script. ARGV[1..5]: tag, active limit, active ms, idle ms, window ms.
///
/// Upkeep (retiring expired and idle tokens, admitting into free places) runs only when it can
/// have work: `due` holds the earliest instant that can change who is in line (the first
/// active token's end, the first waiter's idle deadline), and every write that adds an earlier
/// one lowers it. Upkeep always leaves the concert either without waiters or without a free
/// place, so until `due` passes, a poll is a read: two HMGETs, and for a waiter ZADD XX,
/// PEXPIRE, ZRANK and ZCOUNT.
const QUEUE_LIB: &str = include_str!("scripts/queue_lib.lua");

/// KEYS[1] the concert's users hash. ARGV[6..8]: concert, user, a fresh token.
const ISSUE: &str = include_str!("scripts/issue.lua");

/// KEYS[1] the token's hash. ARGV[6..7]: token, '1' to count this as a poll.
const STATUS: &str = include_str!("scripts/status.lua");

/// KEYS[1] the token's hash. ARGV[6]: token. Ends it for good and frees its place.
const SPEND: &str = include_str!("scripts/spend.lua");

static ISSUE_SCRIPT: LazyLock<Script> =
    LazyLock::new(|| Script::new(&format!("{QUEUE_LIB}{ISSUE}")));
static STATUS_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(&status_source()));
static SPEND_SCRIPT: LazyLock<Script> =
    LazyLock::new(|| Script::new(&format!("{QUEUE_LIB}{SPEND}")));

/// The STATUS script as Redis runs it: the shared queue library, then the script. (The queue
/// scripts are read with `redis-cli --eval` the same way: `cat queue_lib.lua status.lua`.)
pub fn status_source() -> String {
    format!("{QUEUE_LIB}{STATUS}")
}

/// What asking for a token gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issued {
    New(TokenStatus),
    Existing(TokenStatus),
}

/// What the queue knows of a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Live(TokenStatus),
    /// Expired, idle, or spent by a payment.
    Ended,
    /// Never seen, or forgotten (see the token's DynamoDB record).
    Unknown,
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

    fn prepare(&self, script: &'static Script, key: String) -> redis::ScriptInvocation<'static> {
        let s = self.settings;
        let mut inv = script.key(key);
        inv.arg(self.redis.tag())
            .arg(s.queue_active_limit)
            .arg(s.active_token_ttl.as_millis() as u64)
            .arg(s.waiting_token_idle.as_millis() as u64)
            .arg(ADMISSION_WINDOW_MS);
        inv
    }

    fn token_key(&self, token: &QueueToken) -> String {
        format!("{}:tok:{token}", self.redis.tag())
    }

    pub async fn issue(
        &self,
        user: &UserId,
        concert: &ConcertId,
        fresh: QueueToken,
    ) -> Result<Issued, StoreError> {
        let key = format!("{}:q:{concert}:users", self.redis.tag());
        let mut inv = self.prepare(&ISSUE_SCRIPT, key);
        inv.arg(concert.as_str())
            .arg(user.as_str())
            .arg(fresh.to_string());
        let reply: Vec<String> = self
            .redis
            .run(|mut c| async move { inv.invoke_async(&mut c).await })
            .await?;
        let is_new = reply.get(5).is_some_and(|f| f == "NEW");
        match parse_live(reply)? {
            Some(status) if is_new => Ok(Issued::New(status)),
            Some(status) => Ok(Issued::Existing(status)),
            None => Err(StoreError::Unexpected(
                "an issued token was not live".into(),
            )),
        }
    }

    /// The token's state; `poll` counts the call as activity that keeps a waiter in line.
    pub async fn status(&self, token: &QueueToken, poll: bool) -> Result<Lookup, StoreError> {
        let mut inv = self.prepare(&STATUS_SCRIPT, self.token_key(token));
        inv.arg(token.to_string()).arg(if poll { "1" } else { "0" });
        let reply: Vec<String> = self
            .redis
            .run(|mut c| async move { inv.invoke_async(&mut c).await })
            .await?;
        match reply.first().map(String::as_str) {
            Some("ENDED") => Ok(Lookup::Ended),
            Some("UNKNOWN") | None => Ok(Lookup::Unknown),
            _ => Ok(parse_live(reply)?.map_or(Lookup::Ended, Lookup::Live)),
        }
    }

    /// Ends the token for good and frees its active place. Idempotent.
    pub async fn spend(&self, token: &QueueToken) -> Result<(), StoreError> {
        let mut inv = self.prepare(&SPEND_SCRIPT, self.token_key(token));
        inv.arg(token.to_string());
        let _: i64 = self
            .redis
            .run(|mut c| async move { inv.invoke_async(&mut c).await })
            .await?;
        Ok(())
    }
}

/// Reads an ACTIVE or WAITING answer; an ACTIVE token past its time counts as ended (None).
fn parse_live(reply: Vec<String>) -> Result<Option<TokenStatus>, StoreError> {
    let bad = || StoreError::Unexpected(format!("queue script answered {reply:?}"));
    if reply.len() < 7 {
        return Err(bad());
    }
    let token = QueueToken::parse(&reply[6]).map_err(|_| bad())?;
    let number = |i: usize| reply[i].parse::<u64>().map_err(|_| bad());
    let user_id = UserId::parse(&reply[1]).map_err(|_| bad())?;
    let concert_id = ConcertId::parse(&reply[2]).map_err(|_| bad())?;
    let standing = match reply[0].as_str() {
        "ACTIVE" => {
            let (until, now) = (number(3)?, number(4)?);
            if until <= now {
                return Ok(None);
            }
            let until = DateTime::<Utc>::from_timestamp_millis(until as i64).ok_or_else(bad)?;
            Standing::Active { until }
        }
        "WAITING" => Standing::Waiting {
            position: number(3)?,
            recent_admissions: number(4)?,
        },
        _ => return Err(bad()),
    };
    Ok(Some(TokenStatus {
        token,
        user_id,
        concert_id,
        standing,
    }))
}

// ---------------------------------------------------------------------------------------
// The dates cache (cache-aside). Every change bumps the concert's version; an entry counts
// only while its version is current, so a reader that computed before a change can never
// put back a count staler than that change.
//
// - `{p}:dates:c`   HASH v (version it was computed at), b (JSON body), expiring
// - `{p}:dates:c:v` the concert's version counter

/// KEYS[1] entry, KEYS[2] version. Returns {version, body?}.
const DATES_GET: &str = include_str!("scripts/dates_get.lua");

/// KEYS[1] entry, KEYS[2] version. ARGV: version read before computing, body, ttl ms.
const DATES_PUT: &str = include_str!("scripts/dates_put.lua");

static DATES_GET_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(DATES_GET));
static DATES_PUT_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(DATES_PUT));

/// A cache read: the version to compute against, and the body if it is current.
pub struct CachedDates {
    pub version: String,
    pub body: Option<String>,
}

pub struct DatesCache<'a> {
    redis: &'a RedisStore,
}

impl<'a> DatesCache<'a> {
    pub fn new(redis: &'a RedisStore) -> Self {
        Self { redis }
    }

    fn keys(&self, concert: &ConcertId) -> (String, String) {
        let entry = format!("{}:dates:{concert}", self.redis.tag());
        let version = format!("{entry}:v");
        (entry, version)
    }

    pub async fn get(&self, concert: &ConcertId) -> Result<CachedDates, StoreError> {
        let (entry, version) = self.keys(concert);
        let mut inv = DATES_GET_SCRIPT.key(entry);
        inv.key(version);
        let mut reply: Vec<String> = self
            .redis
            .run(|mut c| async move { inv.invoke_async(&mut c).await })
            .await?;
        let body = (reply.len() > 1).then(|| reply.remove(1));
        let version = reply.into_iter().next().unwrap_or_else(|| "0".into());
        Ok(CachedDates { version, body })
    }

    /// Stores `body` computed at `version`, unless the concert changed since.
    pub async fn put(
        &self,
        concert: &ConcertId,
        version: &str,
        body: &str,
        ttl: std::time::Duration,
    ) -> Result<(), StoreError> {
        let (entry, version_key) = self.keys(concert);
        let mut inv = DATES_PUT_SCRIPT.key(entry);
        inv.key(version_key)
            .arg(version)
            .arg(body)
            .arg(ttl.as_millis().max(1) as u64);
        let _: i64 = self
            .redis
            .run(|mut c| async move { inv.invoke_async(&mut c).await })
            .await?;
        Ok(())
    }

    /// After a hold, payment or release: no reader sees the count from before it.
    pub async fn invalidate(&self, concert: &ConcertId) -> Result<(), StoreError> {
        let (entry, version) = self.keys(concert);
        self.redis
            .run(|mut c| async move {
                redis::pipe()
                    .atomic()
                    .incr(version, 1)
                    .ignore()
                    .del(entry)
                    .ignore()
                    .query_async::<()>(&mut c)
                    .await
            })
            .await
    }
}
