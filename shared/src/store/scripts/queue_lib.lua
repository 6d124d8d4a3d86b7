-- Shared by every queue script. One concert's line, every key under its hash tag (one slot):
-- KEYS: 1 users, 2 tok, 3 wait, 4 seen, 5 act, 6 adm, 7 meta, 8 idle (see scripts.rs); the
-- join and the guard add 9, the buyer's fair-use bucket (`fair_lib.lua`), which ends alone.
-- ARGV[1..5]: default active limit, active ms, waiting idle ms, admission window ms, active
-- idle ms. ARGV[6..9]: the line's controls as read from DynamoDB (version, limit or '',
-- paused '1'/'0', opensAt ms or 0), or ARGV[6] = '' when the caller has none to give.
-- ARGV[10..11]: the longest hint (s) and the poll budget (polls/s), for `pacing_lib.lua`.
-- Each script's own arguments start at ARGV[12].
local USERS, TOK, WAIT, SEEN, ACT, ADM, META, IDLE =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local DEFAULT_LIMIT = tonumber(ARGV[1])
local ACTIVE_MS = tonumber(ARGV[2])
local IDLE_MS = tonumber(ARGV[3])
local WINDOW_MS = tonumber(ARGV[4])
local ACTIVE_IDLE_MS = tonumber(ARGV[5])
local MAX_HINT_S = tonumber(ARGV[10])
local BUDGET = tonumber(ARGV[11])
-- Upkeep retires or admits at most this many tokens of each kind per call, so that no call
-- blocks Redis for long whatever the line's length; what is left is due at once.
local BATCH = 50
-- `due` when nothing is scheduled: later than any clock reading.
local NEVER = 9007199254740991
-- Every key of the line ends this long after its last refresh: later than any token can stay
-- live without a call that refreshes (upkeep, an admission, a join, a waiter's poll). A waiter
-- stays for its hint (at most the longest) and the idle time after its last call.
local HORIZON_MS = math.max(ACTIVE_MS, MAX_HINT_S * 1000 + IDLE_MS) + 60000
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
    -- A pre-queue whose opening moves (and is still ahead) stays the same pre-queue.
    local pqo = tonumber(redis.call('HGET', META, 'pqo'))
    if pqo and pqo > now and tonumber(ARGV[9]) > now then
      redis.call('HSET', META, 'pqo', ARGV[9])
    end
  end
  redis.call('HSET', META, 'ck', now)
  -- A line that did not exist yet: its meta still ends with the line.
  if redis.call('PTTL', META) < 0 then redis.call('PEXPIRE', META, HORIZON_MS) end
end
-- Every field of meta a call may read, in one HMGET: the mirror (1-5), then `due`, `limit`,
-- `fresh` (see below), the pace (`pq`, `pk`) and the pre-queue (`pqo`, `pqb`). The locals
-- below follow every write of this call.
local ctl = redis.call('HMGET', META, 'cv', 'cl', 'cp', 'co', 'ck', 'due', 'limit', 'fresh',
  'pq', 'pk', 'pqo', 'pqb')
local M_DUE, M_LIMIT, M_FRESH = tonumber(ctl[6]), tonumber(ctl[7]), tonumber(ctl[8])
local M_PQ, M_PK = ctl[9], tonumber(ctl[10])
local M_PQO, M_PQB = tonumber(ctl[11]), tonumber(ctl[12])
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
-- A time in ms as digits: tostring writes 14 significant digits and then an exponent
-- ('2.5340232222e+14' for the year 9999), which no reader parses as an integer.
local function ms_text(ms)
  return string.format('%.0f', ms)
end
-- opensAt as every answer shows it: 0 once it has passed.
local SHOWN_OPENS = BEFORE and ms_text(OPENS) or '0'

-- A token's record in TOK: 'W:0:user' while waiting, 'A:<activeUntil ms>:user' once admitted,
-- then '|<expiresAt ms>:<reservationId>' for each live hold of its user that keeps it active
-- (`keep.lua`; no user ID has a '|').
local function record(id)
  local r = redis.call('HGET', TOK, id)
  if not r then return nil end
  local s, at, u, holds = string.match(r, '^(%a):(%d+):([^|]*)(.*)$')
  return {s = s, at = tonumber(at), u = u, holds = holds}
end

-- The live holds in a record's suffix, as {expiresAt ms, reservationId}.
local function live_holds(r)
  local out = {}
  for e, res in string.gmatch(r.holds or '', '|(%d+):([^|]+)') do
    if tonumber(e) > now then out[#out + 1] = {tonumber(e), res} end
  end
  return out
end

-- Rewrites an ACTIVE token's record with these holds.
local function write_active(id, r, holds)
  local parts = {string.format('A:%d:%s', r.at, r.u)}
  for _, h in ipairs(holds) do parts[#parts + 1] = string.format('|%d:%s', h[1], h[2]) end
  redis.call('HSET', TOK, id, table.concat(parts))
end

-- Upkeep must run no later than `at`.
local function due_by(at)
  if M_DUE and M_DUE <= at then return end
  redis.call('HSET', META, 'due', at)
  M_DUE = at
end

-- Whether upkeep can have work now. A lost `due` counts as yes, and so does a new admission
-- limit (a raised limit, a resume or the opening free places no clock event announces):
-- upkeep rewrites both.
local function is_due()
  return not M_DUE or M_DUE <= now or M_LIMIT ~= ADMIT_LIMIT
end

local function refresh()
  for i = 1, 8 do redis.call('PEXPIRE', KEYS[i], HORIZON_MS) end
  redis.call('HSET', META, 'fresh', now)
  M_FRESH = now
end

-- A join, or a poll that keeps a waiter in line, refreshes at most once a second (unless
-- `force`: a line that was empty): every key then exists and was refreshed less than a second
-- ago, so it still outlives every live token by most of the horizon's 60 s of slack, however
-- long the hints. (Eight PEXPIREs are a quarter of a join's work.)
local function refresh_soon(force)
  if force or not M_FRESH or M_FRESH < now - 1000 then refresh() end
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
  -- A waiter's score in SEEN is when it drops out: its last call, that call's hint, IDLE_MS.
  local idle = redis.call('ZRANGEBYSCORE', SEEN, '-inf', now, 'LIMIT', 0, BATCH)
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
    if w[2] then nxt = math.min(nxt, tonumber(w[2])) end
  end
  redis.call('HSET', META, 'due', nxt, 'limit', ADMIT_LIMIT)
  M_DUE, M_LIMIT = nxt, ADMIT_LIMIT
  refresh()
end

-- When a waiter told `hint` (s) now drops out unless it calls again.
local function deadline(hint)
  return now + hint * 1000 + IDLE_MS
end

-- A waiter's call, answered with `hint`: it stays in line until its deadline, which may come
-- sooner than the last one (a shorter hint), so `due` comes down with it.
local function touch(id, hint)
  local d = deadline(hint)
  redis.call('ZADD', SEEN, 'XX', d, id)
  due_by(d)
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

-- The slowest admission rate the line can have: the concert's own limit over an ACTIVE
-- token's life (used while nobody was admitted in the last minute).
local SLOWEST = LIMIT / (ACTIVE_MS / 1000)

-- The line's pace for a line of `bucket` with `admits` in the window (`pacing_lib.lua`),
-- kept in meta (`pq` what it was computed for, `pk` the pace) so the bisection runs only
-- when one of them changes.
local function pace_of(bucket, admits, r)
  local key = bucket .. ':' .. admits .. ':' .. LIMIT .. ':' .. ACTIVE_MS .. ':' .. MAX_HINT_S
    .. ':' .. BUDGET
  if M_PQ == key then return M_PK end
  local k = pace(bucket, r, MAX_HINT_S, BUDGET)
  redis.call('HSET', META, 'pq', key, 'pk', string.format('%.17g', k))
  M_PQ, M_PK = key, k
  return k
end

-- The hint for a waiter at `position` of `line` with `admits` in the window, spread by `draw`.
local function hint_for(position, line, admits, draw)
  if BEFORE then return jittered(hint_before_opening(line, MAX_HINT_S, BUDGET), draw) end
  local r = pace_rate(admits, SLOWEST)
  if position / r <= PACE_HEAD_SECONDS then return jittered(paced_hint(position, r, 0, MAX_HINT_S), draw) end
  local k = pace_of(line_bucket(math.max(line, position)), admits, r)
  return jittered(paced_hint(position, r, k, MAX_HINT_S), draw)
end

-- Whether the waiter `id` joined the pre-queue of the coming opening (`pqo` its opening, `pqb`
-- the last arrival before it began: see `issue.lua`), not the line before it.
local function in_pre_queue(id)
  if not M_PQO or not M_PQB or M_PQO <= now then return false end
  return tonumber(redis.call('ZSCORE', WAIT, id)) > M_PQB
end

-- {kind, user, a, b, c, flag, id, admitted, opensAt, hint}: ACTIVE a=activeUntil b=now, hint
-- 0; WAITING a=position b=admissions in the window c=how many wait, hint pollAfterSeconds
-- (spread by `draw`); BEFORE (waiting before the opening, no position) b, c and hint as
-- WAITING; {'UNKNOWN', admitted}. r: the token's record, as `record` reads it.
local function describe(id, r, flag, draw)
  local unknown = {'UNKNOWN', tostring(admitted_now)}
  if not r then return unknown end
  if r.s == 'A' then
    if r.at <= now then return unknown end
    local q = quiet_at(id)
    if q and q <= now then return unknown end
    return {'ACTIVE', r.u, ms_text(r.at), ms_text(now), '0', flag, id, tostring(admitted_now),
      SHOWN_OPENS, '0'}
  end
  local rank = redis.call('ZRANK', WAIT, id)
  if not rank then return unknown end
  local admits = redis.call('ZCOUNT', ADM, now - WINDOW_MS, '+inf')
  local line = redis.call('ZCARD', WAIT)
  local kind = 'WAITING'
  -- Before the opening, a pre-queue join has no position yet; who was in line before the
  -- pre-queue began keeps theirs, ahead of it.
  if BEFORE and in_pre_queue(id) then kind = 'BEFORE' end
  local hint = hint_for(rank + 1, line, admits, draw)
  return {kind, r.u, tostring(rank + 1), tostring(admits), tostring(line), flag, id,
    tostring(admitted_now), SHOWN_OPENS, tostring(hint)}
end

-- The answer of a script that needs the controls and has none, or whose mirror is due a recheck.
-- Third field: 'M' when the line has a mirror it may go on with (a recheck), else ''.
local NOCTL = {'NOCTL', '0', HAS_CONTROLS and 'M' or ''}
