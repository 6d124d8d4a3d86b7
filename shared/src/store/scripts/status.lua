local t = ARGV[6]
local h = redis.call('HMGET', KEYS[1], 'u', 'c', 's', 'at', 'x')
if not h[1] then return {'UNKNOWN'} end
if is_due(h[2]) then
  maintain(h[2])
  h = fields(t)
end
if ARGV[7] == '1' and h[3] == 'W' then touch(h[2], t) end
return describe(t, h, '')
