-- The live log, the only copy of it: a line's number and its place in the log, together, so
-- the log is always in sequence order. Lines are kept as "<seq>|<payload>", the last `keep`.
local function append(seq_key, log_key, line, keep, ttl)
  local seq = redis.call('INCR', seq_key)
  redis.call('RPUSH', log_key, seq .. '|' .. line)
  redis.call('LTRIM', log_key, -tonumber(keep), -1)
  redis.call('EXPIRE', seq_key, ttl)
  redis.call('EXPIRE', log_key, ttl)
  return seq
end
