-- include: queue, decide
-- A decision alone (ARGV as decide.lua's). Returns nil when queued, 'not-queued' for a renewal
-- of a seeker no longer queued, else json {"partner": entry, "common": [...], "since": ms}.
local me, best, common = decide()
if type(me) ~= 'table' then return me end
if #common == 0 then common = cjson.decode('[]') end
return cjson.encode({partner = best, common = common, since = me.since_ms})
