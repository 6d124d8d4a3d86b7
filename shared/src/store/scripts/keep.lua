-- ARGV[12..14]: token ID, a hold's expiry (ms), its reservation ID. A live ACTIVE token counts
-- as active until then (its user's hold ends then), and remembers the hold (`release.lua`).
-- Returns 1 if it was kept, 0 if it is not live and ACTIVE.
local id, untl, res = ARGV[12], tonumber(ARGV[13]), ARGV[14]
local r = record(id)
if not r or r.s ~= 'A' or r.at <= now then return 0 end
local q = quiet_at(id)
if q and q <= now then return 0 end
local holds = {}
for _, h in ipairs(live_holds(r)) do
  if h[2] ~= res then holds[#holds + 1] = h end
end
holds[#holds + 1] = {untl, res}
write_active(id, r, holds)
keep_active(id, untl)
return 1
