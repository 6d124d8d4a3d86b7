-- KEYS[1] entry, KEYS[2] version, KEYS[3] the rebuild's lead (released either way).
-- ARGV: version read before computing, body, ttl ms.
redis.call('DEL', KEYS[3])
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'b', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
