-- ARGV[10..14]: user, a fresh token ID, a random integer in [0, 2^52) (the pre-queue's order,
-- drawn by the caller: Lua's math.random is seeded differently across Redis versions), fair
-- use's rate and burst. KEYS[9]: the user's fair-use bucket on this line.
local u, fresh, rnd = ARGV[10], ARGV[11], tonumber(ARGV[12])
if needs_controls() then return NOCTL end
-- Fair use before anything else: a refused join changes nothing.
local wait = take_fair(KEYS[9], now, tonumber(ARGV[13]), tonumber(ARGV[14]))
if wait > 0 then return {'SLOW', tostring(wait)} end
if is_due() then maintain() end
local existing = redis.call('HGET', USERS, u)
if existing then
  local r = record(existing)
  if r and r.s == 'W' and redis.call('ZSCORE', WAIT, existing) then
    touch(existing)
    return describe(existing, r, 'EXISTING')
  end
  if r and r.s == 'A' then
    keep_active(existing, now + ACTIVE_IDLE_MS)
    local d = describe(existing, r, 'EXISTING')
    if d[1] == 'ACTIVE' then return d end
  end
end
local seq = redis.call('HINCRBY', META, 'seq', 1)
redis.call('HSET', USERS, u, fresh)
local waiting = redis.call('ZCARD', WAIT)
if waiting == 0 and redis.call('ZCARD', ACT) < ADMIT_LIMIT then
  admit(fresh, u)
  redis.call('ZREMRANGEBYSCORE', ADM, '-inf', now - WINDOW_MS)
  due_by(now + math.min(ACTIVE_MS, ACTIVE_IDLE_MS))
  refresh()
  return describe(fresh, record(fresh), 'NEW')
end
redis.call('HSET', TOK, fresh, 'W:0:' .. u)
-- Before the opening: a random place among the pre-queue (scores -2^52..-1), all ahead of
-- every later arrival. After it: last in line, by `seq`, which counts every arrival and ends
-- with the line (one PEXPIRE for all keys). Either way a place is given once and kept.
local score = seq
if BEFORE then score = -1 - rnd end
redis.call('ZADD', WAIT, score, fresh)
redis.call('ZADD', SEEN, now, fresh)
due_by(now + IDLE_MS)
refresh_soon(waiting == 0)
local line = tostring(waiting + 1)
local admits = redis.call('ZCOUNT', ADM, now - WINDOW_MS, '+inf')
if BEFORE then
  return {'BEFORE', u, '0', tostring(admits), line, 'NEW', fresh, tostring(admitted_now), SHOWN_OPENS}
end
return {'WAITING', u, line, tostring(admits), line, 'NEW', fresh, tostring(admitted_now), SHOWN_OPENS}
