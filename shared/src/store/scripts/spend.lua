-- ARGV[5]: token ID. Ends it for good and frees its place; returns how many it admitted.
local id = ARGV[5]
local r = record(id)
if not r then return 0 end
redis.call('ZREM', ACT, id)
redis.call('ZREM', WAIT, id)
redis.call('ZREM', SEEN, id)
retire(id, r.u)
maintain()
return admitted_now
