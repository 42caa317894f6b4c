-- include: gcra, append
-- One round trip per line: the sender's rate limit, then the line's number and its place in
-- the log. KEYS: 1 = rate key, 2 = counter, 3 = log; ARGV: 1 = limit, 2 = window ms, 3 = line
-- payload, 4 = lines kept, 5 = ttl. Returns {seq, 0} or {0, ms to wait}.
local wait = gcra(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]))
if wait > 0 then return {0, wait} end
return {append(KEYS[2], KEYS[3], ARGV[3], ARGV[4], ARGV[5]), 0}
