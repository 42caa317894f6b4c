-- A conversation is one JSON value under KEYS[1]; read, decide and write in one step.
-- ARGV: 1 = user id, 2 = channel. Only the socket that holds the membership counts.
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local conv = cjson.decode(raw)
local m = conv.members[ARGV[1]]
if not m or m.channel ~= ARGV[2] then return 0 end
m.away_since_ms = now
redis.call('SET', KEYS[1], cjson.encode(conv), 'KEEPTTL')
return 1
