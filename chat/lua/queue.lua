-- The matching queue's filing, shared by the matching scripts. KEYS: 1 = entries (hash user id
-- -> json), 2 = leases (zset user id -> lease end); ARGV[1] = the key prefix. An entry is filed,
-- by arrival, in its mode's queue (`queue:<mode>`, whose size is the count of who is
-- searching), in one language list (`lang:<mode>:<lang>` or `nolang:<mode>`), in
-- `practice:<mode>:<lang>` for who practises, in `tag:<mode>:<interest>` for each interest,
-- and in `plain:<mode>` without interests. A decision looks only at the lists where a partner
-- can be, so a long queue of others costs nothing.
local P, ENTRIES, LEASES = ARGV[1], KEYS[1], KEYS[2]
local function str(v) if type(v) == 'string' and v ~= '' then return v end return nil end
local function lists_of(e)
  local l = {P .. ':queue:' .. e.mode}
  local lang, practice = str(e.lang), str(e.practice)
  l[2] = lang and (P .. ':lang:' .. e.mode .. ':' .. lang) or (P .. ':nolang:' .. e.mode)
  if practice then table.insert(l, P .. ':practice:' .. e.mode .. ':' .. practice) end
  if type(e.interests) == 'table' and #e.interests > 0 then
    for _, tag in ipairs(e.interests) do table.insert(l, P .. ':tag:' .. e.mode .. ':' .. tag) end
  else
    table.insert(l, P .. ':plain:' .. e.mode)
  end
  return l
end
local function drop(id, e)
  if e then for _, k in ipairs(lists_of(e)) do redis.call('ZREM', k, id) end end
  redis.call('HDEL', ENTRIES, id)
  redis.call('ZREM', LEASES, id)
end
-- Entries whose socket stopped renewing, a bounded number per call.
for _, id in ipairs(redis.call('ZRANGEBYSCORE', LEASES, '-inf', now - 1, 'LIMIT', 0, 50)) do
  local raw = redis.call('HGET', ENTRIES, id)
  drop(id, raw and cjson.decode(raw))
end
