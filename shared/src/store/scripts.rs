//! Every Redis script, and the typed calls that run them. Each queue operation is one atomic
//! round trip (EVALSHA, falling back to EVAL once after a Redis restart), O(log N) in the
//! number waiting, plus a bounded batch of upkeep (see `queue_lib.lua`).
//!
//! One concert's line is under one hash tag, `{p:c}` for key prefix `p` and concert `c`, so it
//! lives in one cluster slot and different concerts spread over the slots. Every script
//! declares all the keys it touches (`KEYS[1..7]`, [`LineKeys`]), so a cluster routes it and a
//! key outside the slot fails (CROSSSLOT) rather than working on one node only:
//! - `{p:c}:users` HASH userId -> token ID, so asking again returns the same token
//! - `{p:c}:tok`   HASH token ID -> `W:0:user` | `A:<activeUntil ms>:user`
//! - `{p:c}:wait`  ZSET token ID -> arrival sequence (first come, first served)
//! - `{p:c}:seen`  ZSET token ID -> last poll (ms), for dropping idle waiters
//! - `{p:c}:act`   ZSET token ID -> activeUntil (ms)
//! - `{p:c}:adm`   ZSET token ID -> admission time (ms), the last minute of admissions
//! - `{p:c}:meta`  HASH seq (arrival counter), due, limit (see `queue_lib.lua`)
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

use crate::domain::queue::{Standing, TokenStatus, ADMISSION_WINDOW_MS};
use crate::domain::token::{SignedToken, TokenId, TokenKey};
use crate::domain::{ConcertId, UserId};
use crate::error::StoreError;
use crate::settings::Settings;
use crate::store::redis::RedisStore;

/// Shared by every queue script. ARGV[1..4]: active limit, active ms, idle ms, window ms.
///
/// Upkeep (retiring expired and idle tokens, admitting into free places) runs only when it can
/// have work: `due` holds the earliest instant that can change who is in line (the first
/// active token's end, the first waiter's idle deadline), and every write that adds an earlier
/// one lowers it. Upkeep leaves the concert without waiters, without a free place, or due
/// again at once (a full batch), so until `due` passes, a poll is a read: two HMGETs, and for
/// a waiter ZADD XX, ZRANK, ZCOUNT and ZCARD.
const QUEUE_LIB: &str = include_str!("scripts/queue_lib.lua");

/// ARGV[5..6]: user, a fresh token ID.
const ISSUE: &str = include_str!("scripts/issue.lua");

/// ARGV[5..6]: token ID, '1' to count this as a poll.
const STATUS: &str = include_str!("scripts/status.lua");

/// ARGV[5]: token ID. Ends it for good and frees its place.
const SPEND: &str = include_str!("scripts/spend.lua");

static ISSUE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(&issue_source()));
static STATUS_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(&status_source()));
static SPEND_SCRIPT: LazyLock<Script> =
    LazyLock::new(|| Script::new(&format!("{QUEUE_LIB}{SPEND}")));

/// The STATUS script as Redis runs it: the shared queue library, then the script. (The queue
/// scripts are read with `redis-cli --eval` the same way: `cat queue_lib.lua status.lua`.)
pub fn status_source() -> String {
    format!("{QUEUE_LIB}{STATUS}")
}

/// The ISSUE script as Redis runs it.
pub fn issue_source() -> String {
    format!("{QUEUE_LIB}{ISSUE}")
}

/// The hash tag of a concert's keys: its line and its dates cache.
pub fn concert_tag(prefix: &str, concert: &ConcertId) -> String {
    format!("{{{prefix}:{concert}}}")
}

/// A concert line's keys, in the order every queue script takes them as `KEYS`.
pub struct LineKeys(pub [String; 7]);

impl LineKeys {
    pub const NAMES: [&'static str; 7] = ["users", "tok", "wait", "seen", "act", "adm", "meta"];

    pub fn new(prefix: &str, concert: &ConcertId) -> Self {
        let tag = concert_tag(prefix, concert);
        Self(Self::NAMES.map(|name| format!("{tag}:{name}")))
    }
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

    /// The script with the line's keys and the shared arguments.
    pub fn prepare(
        &self,
        script: &'static Script,
        concert: &ConcertId,
    ) -> redis::ScriptInvocation<'static> {
        let s = self.settings;
        let mut inv = script.prepare_invoke();
        for key in LineKeys::new(self.redis.prefix(), concert).0 {
            inv.key(key);
        }
        inv.arg(s.queue_active_limit)
            .arg(s.active_token_ttl.as_millis() as u64)
            .arg(s.waiting_token_idle.as_millis() as u64)
            .arg(ADMISSION_WINDOW_MS);
        inv
    }

    pub async fn issue(
        &self,
        user: &UserId,
        concert: &ConcertId,
        fresh: TokenId,
    ) -> Result<Issued, StoreError> {
        let mut inv = self.prepare(&ISSUE_SCRIPT, concert);
        inv.arg(user.as_str()).arg(fresh.as_str());
        let reply: Vec<String> = self
            .redis
            .run(|mut c| async move { inv.invoke_async(&mut c).await })
            .await?;
        let is_new = reply.get(5).is_some_and(|f| f == "NEW");
        let key = &self.settings.queue_token_key;
        match parse_live(reply, concert, key)? {
            Some(status) if is_new => Ok(Issued::New(status)),
            Some(status) => Ok(Issued::Existing(status)),
            None => Err(StoreError::Unexpected(
                "an issued token was not live".into(),
            )),
        }
    }

    /// The token's state; `poll` counts the call as activity that keeps a waiter in line.
    pub async fn status(&self, token: &SignedToken, poll: bool) -> Result<Lookup, StoreError> {
        let mut inv = self.prepare(&STATUS_SCRIPT, &token.concert);
        inv.arg(token.id.as_str()).arg(if poll { "1" } else { "0" });
        let reply: Vec<String> = self
            .redis
            .run(|mut c| async move { inv.invoke_async(&mut c).await })
            .await?;
        let key = &self.settings.queue_token_key;
        Ok(parse_live(reply, &token.concert, key)?.map_or(Lookup::Ended, Lookup::Live))
    }

    /// Ends the token for good and frees its active place. Idempotent.
    pub async fn spend(&self, token: &SignedToken) -> Result<(), StoreError> {
        let mut inv = self.prepare(&SPEND_SCRIPT, &token.concert);
        inv.arg(token.id.as_str());
        let _: i64 = self
            .redis
            .run(|mut c| async move { inv.invoke_async(&mut c).await })
            .await?;
        Ok(())
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
    if reply.len() < 7 {
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
        _ => return Err(bad()),
    };
    Ok(Some(TokenStatus {
        token: key.sign(concert, &id),
        user_id,
        concert_id: concert.clone(),
        standing,
        poll_after_seconds: None,
    }))
}

// ---------------------------------------------------------------------------------------
// The dates cache (cache-aside). Every change bumps the concert's version; an entry counts
// only while its version is current, so a reader that computed before a change can never
// put back a count staler than that change.
//
// - `{p:c}:dates`   HASH v (version it was computed at), b (JSON body), expiring
// - `{p:c}:dates:v` the concert's version counter; it ends a day after the last change, far
//   longer than any read takes, so no reader can compute across its reset

/// KEYS[1] entry, KEYS[2] version. Returns {version, body?}.
const DATES_GET: &str = include_str!("scripts/dates_get.lua");

/// KEYS[1] entry, KEYS[2] version. ARGV: version read before computing, body, ttl ms.
const DATES_PUT: &str = include_str!("scripts/dates_put.lua");

const VERSION_LIFE_MS: i64 = 86_400_000;

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
        let entry = format!("{}:dates", concert_tag(self.redis.prefix(), concert));
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
                    .incr(&version, 1)
                    .ignore()
                    .pexpire(&version, VERSION_LIFE_MS)
                    .ignore()
                    .del(entry)
                    .ignore()
                    .query_async::<()>(&mut c)
                    .await
            })
            .await
    }
}
