-- ARGV[10..11]: token ID, '1' to count this as a call that keeps the token (a poll, a guard).
local id = ARGV[10]
-- A token the line does not hold needs no controls: it ended.
if not HAS_CONTROLS and redis.call('HEXISTS', TOK, id) == 0 then return {'UNKNOWN', '0'} end
if needs_controls() then return NOCTL end
if is_due() then maintain() end
local r = record(id)
if ARGV[11] == '1' and r then
  if r.s == 'W' then touch(id) else keep_active(id, now + ACTIVE_IDLE_MS) end
end
return describe(id, r, '')
