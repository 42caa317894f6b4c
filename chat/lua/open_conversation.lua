-- KEYS: 1 = the new conversation, 2.. = each member's user-conversation key; ARGV: 1 =
-- conversation id, 2 = its json, 3 = ttl seconds, 4 = the prefix of conversation keys.
-- Nobody is in two conversations at once: a conversation opens only when none of its members
-- is in a live one, in the same step that files it, so a pairing and an accepted invitation
-- racing for one user cannot both open. Returns 1 when opened, 0 when a member was taken.
for i = 2, #KEYS do
  local current = redis.call('GET', KEYS[i])
  if current and redis.call('EXISTS', ARGV[4] .. current) == 1 then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
for i = 2, #KEYS do redis.call('SET', KEYS[i], ARGV[1], 'EX', ARGV[3]) end
return 1
