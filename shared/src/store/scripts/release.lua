-- ARGV[12..13]: token ID, the reservation ID of a hold its holder released. The hold no longer
-- keeps the token active: its idle clock restarts now, unless another live hold of its user
-- keeps it longer. Returns 1 if the token is live and ACTIVE, else 0 (nothing to do).
local id, res = ARGV[12], ARGV[13]
local r = record(id)
if not r or r.s ~= 'A' or r.at <= now then return 0 end
local q = quiet_at(id)
if q and q <= now then return 0 end
local holds, untl = {}, now + ACTIVE_IDLE_MS
for _, h in ipairs(live_holds(r)) do
  if h[2] ~= res then
    holds[#holds + 1] = h
    untl = math.max(untl, h[1])
  end
end
write_active(id, r, holds)
-- Earlier than before, so `due` comes down with it. (A token admitted before the idle rule has
-- no instant: it ends by its life alone.)
if q then
  redis.call('ZADD', IDLE, untl, id)
  due_by(untl)
end
return 1
