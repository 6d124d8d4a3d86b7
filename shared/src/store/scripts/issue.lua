-- ARGV[5..6]: user, a fresh token ID.
local u, fresh = ARGV[5], ARGV[6]
if is_due() then maintain() end
local existing = redis.call('HGET', USERS, u)
if existing then
  local r = record(existing)
  if r and r.s == 'W' and redis.call('ZSCORE', WAIT, existing) then
    touch(existing)
    return describe(existing, r, 'EXISTING')
  end
  if r and r.s == 'A' and r.at > now then return describe(existing, r, 'EXISTING') end
end
local seq = redis.call('HINCRBY', META, 'seq', 1)
redis.call('HSET', USERS, u, fresh)
local waiting = redis.call('ZCARD', WAIT)
if waiting == 0 and redis.call('ZCARD', ACT) < LIMIT then
  admit(fresh, u)
  redis.call('ZREMRANGEBYSCORE', ADM, '-inf', now - WINDOW_MS)
  due_by(now + ACTIVE_MS)
  refresh()
  return describe(fresh, record(fresh), 'NEW')
end
redis.call('HSET', TOK, fresh, 'W:0:' .. u)
-- Last in line: `seq` counts every arrival, and ends with the line (one PEXPIRE for all keys).
redis.call('ZADD', WAIT, seq, fresh)
redis.call('ZADD', SEEN, now, fresh)
due_by(now + IDLE_MS)
refresh_soon(waiting == 0)
local line = tostring(waiting + 1)
local admits = redis.call('ZCOUNT', ADM, now - WINDOW_MS, '+inf')
return {'WAITING', u, line, tostring(admits), line, 'NEW', fresh, tostring(admitted_now)}
