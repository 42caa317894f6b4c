-- Included after queue.lua, whose filing it uses.
-- The pairing rule, the only copy of it (PROTOCOL.md section 3; chat/matching.py says it in
-- words), for the scripts that decide (find_partner.lua, pair.lua). ARGV: 2 = seeker json,
-- 3 = interest wait ms, 4 = lease ms, 5 = how many waiting to look at per list, 6 = '1' for a
-- renewal, 7 = TANDEM_SCORE. decide() returns nil when the seeker is queued, 'not-queued' for
-- a renewal of a seeker no longer queued, else the seeker, the partner (both taken out of the
-- queue) and their common interests in the seeker's order.
local function decide()
  local me = cjson.decode(ARGV[2])
  local wait, lease, scan = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
  local renew, TANDEM = ARGV[6] == '1', tonumber(ARGV[7])
  local uid, M = tostring(me.user_id), me.mode
  local my_lang, my_practice = str(me.lang), str(me.practice)

  local raw_old = redis.call('HGET', ENTRIES, uid)
  local old = raw_old and cjson.decode(raw_old)
  -- A lapsed lease counts as gone, also for its own socket.
  if old and old.lease_until_ms < now then
    drop(uid, old)
    old = nil
  end
  if renew and not (old and old.mode == M and old.channel == me.channel) then
    return 'not-queued'
  end
  me.since_ms = now
  if old and old.mode == M then me.since_ms = old.since_ms end
  if old and not renew then
    -- A new search files the user afresh (its interests or language may differ), keeping its
    -- place in the queue when the mode is the same.
    drop(uid, old)
    old = nil
  end
  me.lease_until_ms = now + lease

  local function count(list) if type(list) == 'table' then return #list end return 0 end
  local function open(s) return count(s.interests) == 0 or now - s.since_ms >= wait end
  local function fits(a, b)
    local a_practice, b_practice = str(a.practice), str(b.practice)
    if a_practice or b_practice then
      return (not a_practice or str(b.lang) == a_practice)
         and (not b_practice or str(a.lang) == b_practice)
    end
    return not (str(a.lang) and str(b.lang) and a.lang ~= b.lang)
  end
  local function apart(a, b_id)
    return string.find(a.excluded or ',', ',' .. b_id .. ',', 1, true) ~= nil
        or (tostring(a.last_partner) == b_id and now < (tonumber(a.last_partner_until_ms) or 0))
  end

  local my_list = type(me.interests) == 'table' and me.interests or {}
  local my_open = open(me)
  local ceiling = count(me.interests) + (my_practice and TANDEM or 0)

  -- Where a partner can be: who shares an interest; then, once open to anyone, who has no
  -- interests, and by language: who speaks the practised language; else who speaks mine, who
  -- gave none, and who practises mine; a seeker without a language: who gave none, then anyone.
  -- (Those with interests who are open to anyone have waited longest: the front of a list.)
  local lists = {}
  if type(me.interests) == 'table' then
    for _, tag in ipairs(me.interests) do table.insert(lists, P .. ':tag:' .. M .. ':' .. tag) end
  end
  if my_open then
    table.insert(lists, P .. ':plain:' .. M)
    if my_practice then
      table.insert(lists, P .. ':lang:' .. M .. ':' .. my_practice)
    elseif my_lang then
      table.insert(lists, P .. ':lang:' .. M .. ':' .. my_lang)
      table.insert(lists, P .. ':nolang:' .. M)
      table.insert(lists, P .. ':practice:' .. M .. ':' .. my_lang)
    else
      table.insert(lists, P .. ':nolang:' .. M)
      table.insert(lists, P .. ':queue:' .. M)
    end
  end

  local best, best_score, best_common, best_since = nil, -1, nil, nil
  local seen = {}
  for _, key in ipairs(lists) do
    local ids
    if best_score == ceiling then
      -- Only someone who has waited longer could still come first.
      ids = redis.call('ZRANGEBYSCORE', key, '-inf', '(' .. best_since, 'LIMIT', 0, scan)
    else
      -- The longest waiting come first. A renewal in a list longer than the scan looks at a
      -- window that moves with the clock, so that two compatible users far back in a long
      -- queue of others still find each other.
      local first = 0
      if renew then
        local n = redis.call('ZCARD', key)
        if n > scan then first = tonumber(TIME[2]) % (n - scan + 1) end
      end
      ids = redis.call('ZRANGE', key, first, first + scan - 1)
    end
    for _, other_id in ipairs(ids) do
      if other_id ~= uid and not seen[other_id] then
        seen[other_id] = true
        local raw = redis.call('HGET', ENTRIES, other_id)
        local o = raw and cjson.decode(raw)
        if not o or o.lease_until_ms < now then
          if o then drop(other_id, o) else redis.call('ZREM', key, other_id) end
        elseif o.mode == M and fits(me, o) and not apart(me, other_id) and not apart(o, uid) then
          -- In the seeker's order (how `matched` lists them).
          local common = {}
          if type(o.interests) == 'table' and #my_list > 0 then
            local theirs = {}
            for _, tag in ipairs(o.interests) do theirs[tag] = true end
            for _, tag in ipairs(my_list) do
              if theirs[tag] then table.insert(common, tag) end
            end
          end
          local score = #common
          if score == 0 and not (my_open and open(o)) then score = nil end
          if score and my_practice and str(o.practice) then score = score + TANDEM end
          if score and (score > best_score or (score == best_score and o.since_ms < best_since)) then
            best, best_score, best_common, best_since = o, score, common, o.since_ms
            if score == ceiling then break end
          end
        end
      end
    end
  end

  if best then
    drop(tostring(best.user_id), best)
    if old then drop(uid, old) end
    return me, best, best_common
  end
  for _, k in ipairs(lists_of(me)) do redis.call('ZADD', k, 'NX', me.since_ms, uid) end
  redis.call('HSET', ENTRIES, uid, cjson.encode(me))
  redis.call('ZADD', LEASES, me.lease_until_ms, uid)
  return nil
end
