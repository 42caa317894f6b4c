-- KEYS: 1 = conversation, 2.. = each member's user-conversation key; ARGV: 1 = conversation
-- id, 2 = '' or the user who must still be away, 3 = grace ms.
-- The line log stays until it expires: a report just after the end snapshots it as evidence.
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
if ARGV[2] ~= '' then
  local m = cjson.decode(raw).members[ARGV[2]]
  if not m or type(m.away_since_ms) ~= 'number' then return 0 end
  if now - m.away_since_ms < tonumber(ARGV[3]) then return 0 end
end
redis.call('DEL', KEYS[1])
for i = 2, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('DEL', KEYS[i]) end
end
return 1
