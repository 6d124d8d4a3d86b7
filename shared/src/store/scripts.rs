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
const QUEUE_LIB: &str = r#"
local P = ARGV[1]
local LIMIT = tonumber(ARGV[2])
local ACTIVE_MS = tonumber(ARGV[3])
local IDLE_MS = tonumber(ARGV[4])
local WINDOW_MS = tonumber(ARGV[5])
-- An ended token is remembered this long, so it answers TOKEN_EXPIRED rather than INVALID.
local KEEP_MS = 3600000
local BATCH = 256
-- `due` when nothing is scheduled: later than any clock reading.
local NEVER = 9007199254740991
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

local function tok(t) return P .. ':tok:' .. t end
local function q(c, name) return P .. ':q:' .. c .. ':' .. name end

-- Upkeep must run no later than `at`.
local function due_by(c, at)
  local d = tonumber(redis.call('HGET', q(c, 'due'), 'at'))
  if d and d <= at then return end
  redis.call('HSET', q(c, 'due'), 'at', at)
end

-- Whether upkeep can have work now. A lost `due` counts as yes, and so does a new active
-- limit (a raised one frees places no clock event announces): upkeep rewrites both.
local function is_due(c)
  local d = redis.call('HMGET', q(c, 'due'), 'at', 'limit')
  return not d[1] or tonumber(d[1]) <= now or tonumber(d[2]) ~= LIMIT
end

local function retire(c, t, why)
  local tk = tok(t)
  local u = redis.call('HGET', tk, 'u')
  if not u then return end
  if redis.call('HGET', q(c, 'users'), u) == t then redis.call('HDEL', q(c, 'users'), u) end
  redis.call('HSET', tk, 's', 'X', 'x', why)
  redis.call('PEXPIRE', tk, KEEP_MS)
end

local function admit(c, t)
  local untl = now + ACTIVE_MS
  redis.call('ZADD', q(c, 'active'), untl, t)
  redis.call('ZADD', q(c, 'admits'), now, t)
  redis.call('ZREMRANGEBYSCORE', q(c, 'admits'), '-inf', now - WINDOW_MS)
  redis.call('HSET', tok(t), 's', 'A', 'at', untl)
  redis.call('PEXPIREAT', tok(t), untl + KEEP_MS)
  due_by(c, untl)
end

-- Retire expired and idle tokens, give every free place to the longest waiting, then set
-- `due` to the next instant this can have work.
local function maintain(c)
  local ended = redis.call('ZRANGEBYSCORE', q(c, 'active'), '-inf', now, 'LIMIT', 0, BATCH)
  for _, t in ipairs(ended) do
    redis.call('ZREM', q(c, 'active'), t)
    retire(c, t, 'expired')
  end
  local idle = redis.call('ZRANGEBYSCORE', q(c, 'seen'), '-inf', now - IDLE_MS, 'LIMIT', 0, BATCH)
  for _, t in ipairs(idle) do
    redis.call('ZREM', q(c, 'waiting'), t)
    redis.call('ZREM', q(c, 'seen'), t)
    retire(c, t, 'idle')
  end
  local free = LIMIT - redis.call('ZCARD', q(c, 'active'))
  while free > 0 do
    local popped = redis.call('ZPOPMIN', q(c, 'waiting'), free)
    if #popped == 0 then break end
    for i = 1, #popped, 2 do
      local t = popped[i]
      redis.call('ZREM', q(c, 'seen'), t)
      if redis.call('EXISTS', tok(t)) == 1 then
        admit(c, t)
        free = free - 1
      end
    end
  end
  local nxt = NEVER
  local a = redis.call('ZRANGE', q(c, 'active'), 0, 0, 'WITHSCORES')
  if a[2] then nxt = tonumber(a[2]) end
  local w = redis.call('ZRANGE', q(c, 'seen'), 0, 0, 'WITHSCORES')
  if w[2] then nxt = math.min(nxt, tonumber(w[2]) + IDLE_MS) end
  redis.call('HSET', q(c, 'due'), 'at', nxt, 'limit', LIMIT)
end

local function touch(c, t)
  redis.call('ZADD', q(c, 'seen'), 'XX', now, t)
  redis.call('PEXPIRE', tok(t), IDLE_MS + KEEP_MS)
end

local function fields(t) return redis.call('HMGET', tok(t), 'u', 'c', 's', 'at', 'x') end

-- {kind, user, concert, a, b, flag, token}: ACTIVE a=activeUntil b=now; WAITING a=position
-- b=admissions in the window. h: the token's fields, as `fields` reads them.
local function describe(t, h, flag)
  if not h[1] then return {'UNKNOWN'} end
  if h[3] == 'X' then return {'ENDED', h[1], h[2], h[5] or ''} end
  if h[3] == 'A' then return {'ACTIVE', h[1], h[2], tostring(h[4]), tostring(now), flag, t} end
  local rank = redis.call('ZRANK', q(h[2], 'waiting'), t)
  if not rank then return {'UNKNOWN'} end
  local admits = redis.call('ZCOUNT', q(h[2], 'admits'), now - WINDOW_MS, '+inf')
  return {'WAITING', h[1], h[2], tostring(rank + 1), tostring(admits), flag, t}
end
"#;

/// KEYS[1] the concert's users hash. ARGV[6..8]: concert, user, a fresh token.
const ISSUE: &str = r#"
local c, u, fresh = ARGV[6], ARGV[7], ARGV[8]
if is_due(c) then maintain(c) end
local existing = redis.call('HGET', KEYS[1], u)
if existing then
  local h = fields(existing)
  local s = h[3]
  if s == 'A' and tonumber(h[4]) <= now then s = nil end
  if s == 'W' then touch(c, existing) end
  if s == 'W' or s == 'A' then return describe(existing, h, 'EXISTING') end
end
local seq = redis.call('INCR', q(c, 'seq'))
redis.call('HSET', tok(fresh), 'u', u, 'c', c, 's', 'W')
redis.call('HSET', KEYS[1], u, fresh)
if redis.call('ZCARD', q(c, 'waiting')) == 0 and redis.call('ZCARD', q(c, 'active')) < LIMIT then
  admit(c, fresh)
else
  redis.call('ZADD', q(c, 'waiting'), seq, fresh)
  redis.call('ZADD', q(c, 'seen'), now, fresh)
  redis.call('PEXPIRE', tok(fresh), IDLE_MS + KEEP_MS)
  due_by(c, now + IDLE_MS)
end
return describe(fresh, fields(fresh), 'NEW')
"#;

/// KEYS[1] the token's hash. ARGV[6..7]: token, '1' to count this as a poll.
const STATUS: &str = r#"
local t = ARGV[6]
local h = redis.call('HMGET', KEYS[1], 'u', 'c', 's', 'at', 'x')
if not h[1] then return {'UNKNOWN'} end
if is_due(h[2]) then
  maintain(h[2])
  h = fields(t)
end
if ARGV[7] == '1' and h[3] == 'W' then touch(h[2], t) end
return describe(t, h, '')
"#;

/// KEYS[1] the token's hash. ARGV[6]: token. Ends it for good and frees its place.
const SPEND: &str = r#"
local t = ARGV[6]
local c = redis.call('HGET', KEYS[1], 'c')
if not c then return 0 end
redis.call('ZREM', q(c, 'active'), t)
redis.call('ZREM', q(c, 'waiting'), t)
redis.call('ZREM', q(c, 'seen'), t)
retire(c, t, 'spent')
maintain(c)
return 1
"#;

static ISSUE_SCRIPT: LazyLock<Script> =
    LazyLock::new(|| Script::new(&format!("{QUEUE_LIB}{ISSUE}")));
static STATUS_SCRIPT: LazyLock<Script> =
    LazyLock::new(|| Script::new(&format!("{QUEUE_LIB}{STATUS}")));
static SPEND_SCRIPT: LazyLock<Script> =
    LazyLock::new(|| Script::new(&format!("{QUEUE_LIB}{SPEND}")));

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
const DATES_GET: &str = r#"
local v = redis.call('GET', KEYS[2]) or '0'
local e = redis.call('HMGET', KEYS[1], 'v', 'b')
if e[1] == v and e[2] then return {v, e[2]} end
return {v}
"#;

/// KEYS[1] entry, KEYS[2] version. ARGV: version read before computing, body, ttl ms.
const DATES_PUT: &str = r#"
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'b', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"#;

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
