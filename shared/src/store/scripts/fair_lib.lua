-- Fair use: a token bucket per buyer of `burst` calls, refilled at `rate` a second, kept as
-- GCRA: one key holds the instant (ms, with fractions) at which the bucket would be full
-- again, and ends (PX) then. A call is let through while taking one more keeps that instant
-- within `burst` refills of now. A refused call writes nothing. Returns 0, or the ms until a
-- call would be let through.
local function take_fair(key, now, rate, burst)
  local interval = 1000 / rate
  local full = tonumber(redis.call('GET', key)) or now
  if full < now then full = now end
  local after = full + interval
  local wait = after - burst * interval - now
  if wait > 0 then return math.ceil(wait) end
  redis.call('SET', key, string.format('%.3f', after), 'PX', math.ceil(after - now))
  return 0
end
