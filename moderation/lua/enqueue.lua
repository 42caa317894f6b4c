-- The analysis queue (moderation.analysis): a push of the lines gathered by one flush.
-- KEYS 1 = the queue; ARGV 1 = most lines kept, 2 = ttl ms, 3 = oldest stamp kept (ms),
-- 4.. = "<stamp ms>|<line>" entries. Appends, drops stale lines from the head (at most 1000 per
-- push, so that a push stays short), sets the expiry. Returns the queue's length.
for i = 4, #ARGV do redis.call('RPUSH', KEYS[1], ARGV[i]) end
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[1]), -1)
local cutoff = tonumber(ARGV[3])
for _ = 1, 1000 do
  local head = redis.call('LINDEX', KEYS[1], 0)
  if not head then break end
  local stamp = tonumber(string.match(head, '^(%d+)|'))
  if stamp and stamp >= cutoff then break end
  redis.call('LPOP', KEYS[1])
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return redis.call('LLEN', KEYS[1])
