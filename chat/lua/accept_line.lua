-- include: gcra, append
-- Lines accepted in one turn of a server's event loop, in one call (a lone line is a batch of
-- one): for each line, in order, the sender's rate limit, then the line's number and its place
-- in the log. KEYS, 3 a line: rate key, counter, log; ARGV, 5 a line: limit, window ms, line
-- payload, lines kept, ttl. Returns, 2 a line, {seq, 0} or {0, ms to wait}.
local out = {}
for line = 0, #KEYS / 3 - 1 do
  local k, a = line * 3, line * 5
  local wait = gcra(KEYS[k + 1], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]))
  if wait > 0 then
    out[#out + 1] = 0
    out[#out + 1] = wait
  else
    out[#out + 1] = append(KEYS[k + 2], KEYS[k + 3], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5])
    out[#out + 1] = 0
  end
end
return out
