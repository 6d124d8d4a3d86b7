-- ARGV[5..6]: token ID, '1' to count this as a poll.
local id = ARGV[5]
if is_due() then maintain() end
local r = record(id)
if ARGV[6] == '1' and r and r.s == 'W' then touch(id) end
return describe(id, r, '')
