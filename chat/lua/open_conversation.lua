-- include: opening
-- KEYS: 1 = the new conversation, 2.. = each member's user-conversation key; ARGV: 1 =
-- conversation id, 2 = its json, 3 = ttl seconds, 4 = the prefix of conversation keys.
-- Returns 1 when opened, 0 when a member was taken (opening.lua).
local users = {}
for i = 2, #KEYS do users[#users + 1] = KEYS[i] end
if open_conversation(KEYS[1], users, ARGV[1], ARGV[2], ARGV[3], ARGV[4]) then return 1 end
return 0
