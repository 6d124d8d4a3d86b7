-- ARGV[12]: token ID. Ends it for good and frees its place; returns how many it admitted.
local id = ARGV[12]
local r = record(id)
if not r then return 0 end
redis.call('ZREM', ACT, id)
redis.call('ZREM', IDLE, id)
redis.call('ZREM', WAIT, id)
redis.call('ZREM', SEEN, id)
retire(id, r.u)
-- Without the controls, the next call that has them fills the place (due now).
if HAS_CONTROLS then maintain() else redis.call('HSET', META, 'due', now) end
return admitted_now
