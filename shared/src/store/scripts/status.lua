-- ARGV[12..17]: token ID, '1' to count this as a call that keeps the token (a poll, a guard),
-- the buyer presenting it ('' before sign-in: its holder), fair use's rate and burst, the
-- hint's jitter draw in [0, 2^20). KEYS[9]: the buyer's fair-use bucket on this line.
local id, buyer, draw = ARGV[12], ARGV[14], tonumber(ARGV[17])
-- A token the line does not hold needs no controls: it ended.
if not HAS_CONTROLS and redis.call('HEXISTS', TOK, id) == 0 then return {'UNKNOWN', '0'} end
if needs_controls() then return NOCTL end
-- Fair use before anything else: a refused call changes nothing, not even upkeep.
local wait = take_fair(KEYS[9], now, tonumber(ARGV[15]), tonumber(ARGV[16]))
if wait > 0 then return {'SLOW', tostring(wait)} end
if is_due() then maintain() end
local r = record(id)
-- Another user's live token: refused, its clocks untouched.
if r and buyer ~= '' and r.u ~= buyer then
  local d = describe(id, r, '', draw)
  if d[1] == 'UNKNOWN' then return d end
  return {'OTHER', tostring(admitted_now)}
end
if ARGV[13] == '1' and r and r.s == 'A' then keep_active(id, now + ACTIVE_IDLE_MS) end
local d = describe(id, r, '', draw)
-- A waiter's call keeps it in line until the hint it is given, and the idle time after.
if ARGV[13] == '1' and r and r.s == 'W' and d[1] ~= 'UNKNOWN' then touch(id, tonumber(d[10])) end
return d
