-- include: queue
-- ARGV: 2 = mode, 3 = user id not to count or ''. The mode queue's size: no scan.
local key = P .. ':queue:' .. ARGV[2]
local n = redis.call('ZCARD', key)
if ARGV[3] ~= '' and redis.call('ZSCORE', key, ARGV[3]) then n = n - 1 end
return n
