-- KEYS: 1 = conversation; ARGV: 1 = user id, 2 = new channel, 3 = grace ms.
-- Returns the conversation, or nil when the member is gone or was away too long.
local raw = redis.call('GET', KEYS[1])
if not raw then return nil end
local conv = cjson.decode(raw)
local m = conv.members[ARGV[1]]
if not m then return nil end
if type(m.away_since_ms) == 'number' and now - m.away_since_ms > tonumber(ARGV[3]) then
  return nil
end
m.channel = ARGV[2]
m.away_since_ms = cjson.null
raw = cjson.encode(conv)
redis.call('SET', KEYS[1], raw, 'KEEPTTL')
return raw
