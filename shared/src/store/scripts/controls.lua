-- Writes the controls mirror (ARGV[6..9], done by queue_lib when newer than the one there).
-- Returns the revision the mirror now holds.
return tonumber(redis.call('HGET', META, 'cv'))
