-- KEYS[1]: a buyer's bucket for the routes that check no queue token. ARGV: rate, burst.
-- Returns 0, or the ms until a call would be let through.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return take_fair(KEYS[1], now, tonumber(ARGV[1]), tonumber(ARGV[2]))
