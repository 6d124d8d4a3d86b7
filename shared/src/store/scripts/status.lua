-- ARGV[10..14]: token ID, '1' to count this as a call that keeps the token (a poll, a guard),
-- the buyer presenting it ('' before sign-in: its holder), fair use's rate and burst.
-- KEYS[9]: the buyer's fair-use bucket on this line.
local id, buyer = ARGV[10], ARGV[12]
-- A token the line does not hold needs no controls: it ended.
if not HAS_CONTROLS and redis.call('HEXISTS', TOK, id) == 0 then return {'UNKNOWN', '0'} end
if needs_controls() then return NOCTL end
-- Fair use before anything else: a refused call changes nothing, not even upkeep.
local wait = take_fair(KEYS[9], now, tonumber(ARGV[13]), tonumber(ARGV[14]))
if wait > 0 then return {'SLOW', tostring(wait)} end
if is_due() then maintain() end
local r = record(id)
-- Another user's live token: refused, its clocks untouched.
if r and buyer ~= '' and r.u ~= buyer then
  local d = describe(id, r, '')
  if d[1] == 'UNKNOWN' then return d end
  return {'OTHER', tostring(admitted_now)}
end
if ARGV[11] == '1' and r then
  if r.s == 'W' then touch(id) else keep_active(id, now + ACTIVE_IDLE_MS) end
end
return describe(id, r, '')
