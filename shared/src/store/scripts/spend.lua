local t = ARGV[6]
local c = redis.call('HGET', KEYS[1], 'c')
if not c then return 0 end
redis.call('ZREM', q(c, 'active'), t)
redis.call('ZREM', q(c, 'waiting'), t)
redis.call('ZREM', q(c, 'seen'), t)
retire(c, t, 'spent')
maintain(c)
return 1
