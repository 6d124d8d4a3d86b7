local v = redis.call('GET', KEYS[2]) or '0'
local e = redis.call('HMGET', KEYS[1], 'v', 'b')
if e[1] == v and e[2] then return {v, e[2]} end
return {v}
