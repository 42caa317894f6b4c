-- Opening a live conversation, the only copy of the rule: nobody is in two conversations at
-- once. A conversation opens only when none of its members is in a live one, in the same step
-- that files it, so a pairing and an accepted invitation racing for one user cannot both open.
-- `taken(user_key, conv_prefix)`: the user (its user-conversation key) is in a live one.
local function taken(user_key, conv_prefix)
  local current = redis.call('GET', user_key)
  return current ~= false and current ~= nil and redis.call('EXISTS', conv_prefix .. current) == 1
end
-- Files conversation `id` (its json at `conv_key`) and each member's user-conversation key;
-- returns false, opening nothing, when a member was taken.
local function open_conversation(conv_key, user_keys, id, json, ttl, conv_prefix)
  for _, key in ipairs(user_keys) do
    if taken(key, conv_prefix) then return false end
  end
  redis.call('SET', conv_key, json, 'EX', ttl)
  for _, key in ipairs(user_keys) do redis.call('SET', key, id, 'EX', ttl) end
  return true
end
