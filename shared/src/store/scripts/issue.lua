-- ARGV[12..17]: user, a fresh token ID, a random integer in [0, 2^52) (the pre-queue's order),
-- fair use's rate and burst, the hint's jitter draw in [0, 2^20) (both drawn by the caller:
-- Lua's math.random is seeded differently across Redis versions). KEYS[9]: the user's
-- fair-use bucket on this line.
local u, fresh, rnd = ARGV[12], ARGV[13], tonumber(ARGV[14])
local draw = tonumber(ARGV[17])
if needs_controls() then return NOCTL end
-- Fair use before anything else: a refused join changes nothing.
local wait = take_fair(KEYS[9], now, tonumber(ARGV[15]), tonumber(ARGV[16]))
if wait > 0 then return {'SLOW', tostring(wait)} end
if is_due() then maintain() end
local existing = redis.call('HGET', USERS, u)
if existing then
  local r = record(existing)
  if r and r.s == 'W' and redis.call('ZSCORE', WAIT, existing) then
    local d = describe(existing, r, 'EXISTING', draw)
    touch(existing, tonumber(d[10]))
    return d
  end
  if r and r.s == 'A' then
    keep_active(existing, now + ACTIVE_IDLE_MS)
    local d = describe(existing, r, 'EXISTING', draw)
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
  return describe(fresh, record(fresh), 'NEW', draw)
end
redis.call('HSET', TOK, fresh, 'W:0:' .. u)
-- After the opening: last in line, by `seq`, which counts every arrival and ends with the line
-- (one PEXPIRE for all keys). Before it: the pre-queue, a random place in (base, base + 1),
-- `base` the last arrival before this opening's pre-queue began: behind everyone already in
-- line, ahead of everyone who joins after (their `seq` is past every pre-queue join's). The
-- random part stays in [0.25, 0.75), so no sum rounds onto a neighbour's whole number; draws
-- that round alike are ordered by their random token IDs. Either way a place is given once
-- and kept.
local score = seq
if BEFORE then
  -- A new pre-queue when there is none, or the last one's opening has passed (an opening
  -- moved while its pre-queue waits moves `pqo` with it: `queue_lib.lua`).
  local base = M_PQB
  if not base or not M_PQO or M_PQO <= now then base = seq - 1 end
  if M_PQO ~= OPENS or base ~= M_PQB then
    redis.call('HSET', META, 'pqo', OPENS, 'pqb', base)
    M_PQO, M_PQB = OPENS, base
  end
  score = string.format('%.17g', base + 0.25 + rnd / 9007199254740992)
end
redis.call('ZADD', WAIT, score, fresh)
local admits = redis.call('ZCOUNT', ADM, now - WINDOW_MS, '+inf')
-- Last in line (the pre-queue has no positions).
local line = waiting + 1
local hint = hint_for(line, line, admits, draw)
redis.call('ZADD', SEEN, deadline(hint), fresh)
due_by(deadline(hint))
refresh_soon(waiting == 0)
local kind = BEFORE and 'BEFORE' or 'WAITING'
local shown = BEFORE and '0' or tostring(line)
return {kind, u, shown, tostring(admits), tostring(line), 'NEW', fresh, tostring(admitted_now),
  SHOWN_OPENS, tostring(hint)}
