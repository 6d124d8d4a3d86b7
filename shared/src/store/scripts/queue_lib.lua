-- Shared by every queue script. One concert's line, every key under its hash tag (one slot):
-- KEYS: 1 users, 2 tok, 3 wait, 4 seen, 5 act, 6 adm, 7 meta, 8 idle (see scripts.rs); the
-- join and the guard add 9, the buyer's fair-use bucket (`fair_lib.lua`), which ends alone.
-- ARGV[1..5]: default active limit, active ms, waiting idle ms, admission window ms, active
-- idle ms. ARGV[6..9]: the line's controls as read from DynamoDB (version, limit or '',
-- paused '1'/'0', opensAt ms or 0), or ARGV[6] = '' when the caller has none to give.
-- Each script's own arguments start at ARGV[10].
local USERS, TOK, WAIT, SEEN, ACT, ADM, META, IDLE =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local DEFAULT_LIMIT = tonumber(ARGV[1])
local ACTIVE_MS = tonumber(ARGV[2])
local IDLE_MS = tonumber(ARGV[3])
local WINDOW_MS = tonumber(ARGV[4])
local ACTIVE_IDLE_MS = tonumber(ARGV[5])
-- Upkeep retires or admits at most this many tokens of each kind per call, so that no call
-- blocks Redis for long whatever the line's length; what is left is due at once.
local BATCH = 50
-- `due` when nothing is scheduled: later than any clock reading.
local NEVER = 9007199254740991
-- Every key of the line ends this long after its last refresh: later than any token can stay
-- live without a call that refreshes (upkeep, an admission, a join, a waiter's poll).
local HORIZON_MS = math.max(ACTIVE_MS, IDLE_MS) + 60000
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
-- Tokens this call admitted (its own or others'): every reply ends with it, for the metrics.
local admitted_now = 0

-- The controls mirror (meta `cv` `cl` `cp` `co`): the concert's revision they were read at,
-- its active limit ('' for the default), paused, opensAt (ms, 0 for none). The operator's
-- writes and a reader that found none both write it, and only a newer revision replaces it,
-- so a reader's late copy never undoes an operator's change.
--
-- `ck` is when the mirror was last confirmed from DynamoDB. Past RECHECK_MS, the first call
-- that needs the controls takes the recheck for itself (moves `ck`) and answers NOCTL, so one
-- caller per line reads the concert while the rest go on. So a change whose mirror write
-- failed (Redis away after DynamoDB committed it) is in force within RECHECK_MS anyway.
local RECHECK_MS = 10000
if ARGV[6] ~= '' then
  local v = tonumber(ARGV[6])
  local cur = tonumber(redis.call('HGET', META, 'cv'))
  if not cur or cur < v then
    redis.call('HSET', META, 'cv', v, 'cl', ARGV[7], 'cp', ARGV[8], 'co', ARGV[9])
  end
  redis.call('HSET', META, 'ck', now)
  -- A line that did not exist yet: its meta still ends with the line.
  if redis.call('PTTL', META) < 0 then redis.call('PEXPIRE', META, HORIZON_MS) end
end
local ctl = redis.call('HMGET', META, 'cv', 'cl', 'cp', 'co', 'ck')
-- Without a mirror the scripts admit nobody; those that need one answer NOCTL, and the caller
-- reads the concert once and calls again with it.
local HAS_CONTROLS = ctl[1] ~= false
local function needs_controls()
  if not HAS_CONTROLS then return true end
  if now - (tonumber(ctl[5]) or 0) < RECHECK_MS then return false end
  redis.call('HSET', META, 'ck', now)
  return true
end
local LIMIT = tonumber(ctl[2]) or DEFAULT_LIMIT
local OPENS = tonumber(ctl[4]) or 0
-- Before the opening, joins form the pre-queue: no positions, nobody admitted.
local BEFORE = now < OPENS
-- How many may be ACTIVE for upkeep to admit: none while paused or before the opening.
local ADMIT_LIMIT = LIMIT
if ctl[3] == '1' or BEFORE or not HAS_CONTROLS then ADMIT_LIMIT = 0 end
-- opensAt as every answer shows it: 0 once it has passed.
local SHOWN_OPENS = BEFORE and tostring(OPENS) or '0'

-- A token's record in TOK: 'W:0:user' while waiting, 'A:<activeUntil ms>:user' once admitted.
local function record(id)
  local r = redis.call('HGET', TOK, id)
  if not r then return nil end
  local s, at, u = string.match(r, '^(%a):(%d+):(.*)$')
  return {s = s, at = tonumber(at), u = u}
end

-- Upkeep must run no later than `at`.
local function due_by(at)
  local d = tonumber(redis.call('HGET', META, 'due'))
  if d and d <= at then return end
  redis.call('HSET', META, 'due', at)
end

-- Whether upkeep can have work now. A lost `due` counts as yes, and so does a new admission
-- limit (a raised limit, a resume or the opening free places no clock event announces):
-- upkeep rewrites both.
local function is_due()
  local d = redis.call('HMGET', META, 'due', 'limit')
  return not d[1] or tonumber(d[1]) <= now or tonumber(d[2]) ~= ADMIT_LIMIT
end

local function refresh()
  for i = 1, 8 do redis.call('PEXPIRE', KEYS[i], HORIZON_MS) end
  redis.call('HSET', META, 'fresh', now)
end

-- A join, or a poll that keeps a waiter in line, refreshes at most once a second (unless
-- `force`: a line that was empty): every key then exists and was refreshed less than a second
-- ago, so it still outlives every live token by most of the horizon's 60 s of slack, however
-- long the hints. (Eight PEXPIREs are a quarter of a join's work.)
local function refresh_soon(force)
  local fresh = tonumber(redis.call('HGET', META, 'fresh'))
  if force or not fresh or fresh < now - 1000 then refresh() end
end

-- Ends a token for good: its record goes (a signed token the line does not know is expired).
local function retire(id, u)
  redis.call('HDEL', TOK, id)
  if u and redis.call('HGET', USERS, u) == id then redis.call('HDEL', USERS, u) end
end

local function admit(id, u)
  local untl = now + ACTIVE_MS
  redis.call('ZADD', ACT, untl, id)
  redis.call('ZADD', IDLE, now + ACTIVE_IDLE_MS, id)
  redis.call('ZADD', ADM, now, id)
  redis.call('HSET', TOK, id, 'A:' .. untl .. ':' .. u)
  admitted_now = admitted_now + 1
end

-- Ends ACTIVE tokens (ids) for good: past their life, or idle.
local function end_active(ids)
  for _, id in ipairs(ids) do
    redis.call('ZREM', ACT, id)
    redis.call('ZREM', IDLE, id)
    local r = record(id)
    retire(id, r and r.u)
  end
end

-- Retire expired and idle tokens, give free places to the longest waiting, then set `due` to
-- the next instant this can have work: now, if a batch was full.
local function maintain()
  local more = false
  local ended = redis.call('ZRANGEBYSCORE', ACT, '-inf', now, 'LIMIT', 0, BATCH)
  end_active(ended)
  more = more or #ended == BATCH
  local quiet = redis.call('ZRANGEBYSCORE', IDLE, '-inf', now, 'LIMIT', 0, BATCH)
  end_active(quiet)
  more = more or #quiet == BATCH
  local idle = redis.call('ZRANGEBYSCORE', SEEN, '-inf', now - IDLE_MS, 'LIMIT', 0, BATCH)
  for _, id in ipairs(idle) do
    redis.call('ZREM', WAIT, id)
    redis.call('ZREM', SEEN, id)
    local r = record(id)
    retire(id, r and r.u)
  end
  more = more or #idle == BATCH
  local free = math.min(ADMIT_LIMIT - redis.call('ZCARD', ACT), BATCH)
  local admitted = 0
  if free > 0 then
    local popped = redis.call('ZPOPMIN', WAIT, free)
    for i = 1, #popped, 2 do
      local id = popped[i]
      redis.call('ZREM', SEEN, id)
      local r = record(id)
      if r then
        admit(id, r.u)
        admitted = admitted + 1
      end
    end
    more = more or #popped == 2 * BATCH
  end
  if admitted > 0 then redis.call('ZREMRANGEBYSCORE', ADM, '-inf', now - WINDOW_MS) end
  local nxt = NEVER
  if more then
    nxt = now
  else
    local a = redis.call('ZRANGE', ACT, 0, 0, 'WITHSCORES')
    if a[2] then nxt = tonumber(a[2]) end
    local q = redis.call('ZRANGE', IDLE, 0, 0, 'WITHSCORES')
    if q[2] then nxt = math.min(nxt, tonumber(q[2])) end
    local w = redis.call('ZRANGE', SEEN, 0, 0, 'WITHSCORES')
    if w[2] then nxt = math.min(nxt, tonumber(w[2]) + IDLE_MS) end
  end
  redis.call('HSET', META, 'due', nxt, 'limit', ADMIT_LIMIT)
  refresh()
end

-- A waiter's call: it stays in line for IDLE_MS more, and so do the line's keys.
local function touch(id)
  redis.call('ZADD', SEEN, 'XX', now, id)
  refresh_soon(false)
end

-- When an ACTIVE token ends for want of calls (ms), or nil for a token admitted before the
-- idle rule (it ends by its life alone).
local function quiet_at(id)
  return tonumber(redis.call('ZSCORE', IDLE, id))
end

-- An ACTIVE token's call (or its user's hold) keeps it until `untl` at least. Deadlines only
-- move later, so `due` stays a valid lower bound; an idle token is never brought back.
local function keep_active(id, untl)
  local q = quiet_at(id)
  if q and (q <= now or q >= untl) then return end
  redis.call('ZADD', IDLE, untl, id)
end

-- {kind, user, a, b, c, flag, id, admitted, opensAt}: ACTIVE a=activeUntil b=now; WAITING
-- a=position b=admissions in the window c=how many wait; BEFORE (waiting before the opening,
-- no position) b and c as WAITING; {'UNKNOWN', admitted}. r: the token's record, as `record`
-- reads it.
local function describe(id, r, flag)
  local unknown = {'UNKNOWN', tostring(admitted_now)}
  if not r then return unknown end
  if r.s == 'A' then
    if r.at <= now then return unknown end
    local q = quiet_at(id)
    if q and q <= now then return unknown end
    return {'ACTIVE', r.u, tostring(r.at), tostring(now), '0', flag, id, tostring(admitted_now),
      SHOWN_OPENS}
  end
  local rank = redis.call('ZRANK', WAIT, id)
  if not rank then return unknown end
  local admits = redis.call('ZCOUNT', ADM, now - WINDOW_MS, '+inf')
  local line = redis.call('ZCARD', WAIT)
  local kind = BEFORE and 'BEFORE' or 'WAITING'
  return {kind, r.u, tostring(rank + 1), tostring(admits), tostring(line), flag, id,
    tostring(admitted_now), SHOWN_OPENS}
end

-- The answer of a script that needs the controls and has none, or whose mirror is due a recheck.
-- Third field: 'M' when the line has a mirror it may go on with (a recheck), else ''.
local NOCTL = {'NOCTL', '0', HAS_CONTROLS and 'M' or ''}
