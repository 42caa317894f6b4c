-- include: gcra, queue, decide, opening
-- A find in one step: the seeker's frame rate, the decision (decide.lua), and, when it pairs,
-- the live conversation opened for both (opening.lua), so that a pairing costs one round trip.
-- ARGV 1-7 as decide.lua's; 8 = the new conversation's id, 9 = the prefix of conversation keys,
-- 10 = the prefix of user-conversation keys, 11 = their ttl seconds, 12 = the rate key ('' for
-- none), 13 = its limit, 14 = its window ms.
-- Returns json {"wait": ms} when the rate refuses the find (nothing else done), nil when
-- queued, 'not-queued' for a renewal of a seeker no longer queued, else json {"partner":
-- entry, "common": [...], "since": ms, "conversation": the opened conversation} or, when one of
-- the two was in a live conversation already (nothing opened, both out of the queue),
-- {"partner", "common", "since", "seeker_taken": bool, "partner_taken": bool}.
if ARGV[12] ~= '' then
  local wait = gcra(ARGV[12], tonumber(ARGV[13]), tonumber(ARGV[14]))
  if wait > 0 then return cjson.encode({wait = wait}) end
end
local me, best, common = decide()
if type(me) ~= 'table' then return me end
local id, CONV, USER_CONV, ttl = ARGV[8], ARGV[9], ARGV[10], ARGV[11]
if #common == 0 then common = cjson.decode('[]') end
local out = {partner = best, common = common, since = me.since_ms}
local function member(s)
  return {user_id = s.user_id, channel = s.channel, handle = s.handle,
          keeps_history = s.keeps_history, practice = s.practice, away_since_ms = cjson.null}
end
-- The user who waited makes the WebRTC offer: the initiator.
local conversation = {id = id, mode = me.mode, initiator_id = best.user_id,
                      common_interests = common, contact = cjson.null,
                      members = {[tostring(best.user_id)] = member(best),
                                 [tostring(me.user_id)] = member(me)}}
local users = {USER_CONV .. best.user_id, USER_CONV .. me.user_id}
if open_conversation(CONV .. id, users, id, cjson.encode(conversation), ttl, CONV) then
  out.conversation = conversation
else
  out.seeker_taken = taken(users[2], CONV)
  out.partner_taken = taken(users[1], CONV)
end
return cjson.encode(out)
