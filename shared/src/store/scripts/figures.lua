-- The line as an operator sees it; reads only. KEYS: the seven line keys.
-- Returns {waiting, active (not past its time), admitted in the last window}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return {
  redis.call('ZCARD', KEYS[3]),
  redis.call('ZCOUNT', KEYS[5], '(' .. now, '+inf'),
  redis.call('ZCOUNT', KEYS[6], '(' .. (now - tonumber(ARGV[4])), '+inf'),
}
