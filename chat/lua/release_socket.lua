-- KEYS: 1 = user's socket key; ARGV: 1 = channel. Deletes only the caller's own claim.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
