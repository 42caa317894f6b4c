-- The analysis queue (moderation.analysis): a drained batch leaves it.
-- KEYS 1 = the queue; ARGV = the entries just analysed, oldest first. Removes each one that is
-- still at the head (a push may have dropped some as stale meanwhile), never anything else.
-- Returns how many were removed.
local removed = 0
for i = 1, #ARGV do
  if redis.call('LINDEX', KEYS[1], 0) == ARGV[i] then
    redis.call('LPOP', KEYS[1])
    removed = removed + 1
  end
end
return removed
