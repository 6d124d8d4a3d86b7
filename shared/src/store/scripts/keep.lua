-- ARGV[10..11]: token ID, an instant (ms). A live ACTIVE token counts as active until then:
-- its user's hold ends then. Returns 1 if it was kept, 0 if it is not live and ACTIVE.
local id, untl = ARGV[10], tonumber(ARGV[11])
local r = record(id)
if not r or r.s ~= 'A' or r.at <= now then return 0 end
local q = quiet_at(id)
if q and q <= now then return 0 end
keep_active(id, untl)
return 1
