-- include: gcra
-- KEYS: 1 = the key's arrival time; ARGV: 1 = limit, 2 = window ms. 0, or the ms to wait.
return gcra(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]))
