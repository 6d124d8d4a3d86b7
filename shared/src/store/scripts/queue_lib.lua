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
