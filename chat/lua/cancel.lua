-- include: queue
-- ARGV: 2 = user id, 3 = channel or ''. Only an entry made by that socket is taken out.
local raw = redis.call('HGET', ENTRIES, ARGV[2])
if not raw then return 0 end
local e = cjson.decode(raw)
if ARGV[3] ~= '' and e.channel ~= ARGV[3] then return 0 end
drop(ARGV[2], e)
return 1
