-- The rate limit, the only copy of it: the generic cell rate algorithm. At most `limit` hits in
-- any `window` ms, evenly refilled, so there is no burst at a window's edge. Returns 0 when the
-- hit is allowed (and counted), else the ms to wait.
local function gcra(key, limit, window)
  local tat = tonumber(redis.call('GET', key) or '0')
  local next_tat = math.max(tat, now) + window / limit
  local allowed_at = next_tat - window
  if allowed_at > now then return math.floor(allowed_at - now) + 1 end
  redis.call('SET', key, string.format('%d', next_tat), 'PX', math.ceil(next_tat - now) + 1)
  return 0
end
