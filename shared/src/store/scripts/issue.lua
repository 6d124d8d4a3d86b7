local c, u, fresh = ARGV[6], ARGV[7], ARGV[8]
if is_due(c) then maintain(c) end
local existing = redis.call('HGET', KEYS[1], u)
if existing then
  local h = fields(existing)
  local s = h[3]
  if s == 'A' and tonumber(h[4]) <= now then s = nil end
  if s == 'W' then touch(c, existing) end
  if s == 'W' or s == 'A' then return describe(existing, h, 'EXISTING') end
end
local seq = redis.call('INCR', q(c, 'seq'))
redis.call('HSET', tok(fresh), 'u', u, 'c', c, 's', 'W')
redis.call('HSET', KEYS[1], u, fresh)
if redis.call('ZCARD', q(c, 'waiting')) == 0 and redis.call('ZCARD', q(c, 'active')) < LIMIT then
  admit(c, fresh)
else
  redis.call('ZADD', q(c, 'waiting'), seq, fresh)
  redis.call('ZADD', q(c, 'seen'), now, fresh)
  redis.call('PEXPIRE', tok(fresh), IDLE_MS + KEEP_MS)
  due_by(c, now + IDLE_MS)
end
return describe(fresh, fields(fresh), 'NEW')
