-- include: append
-- KEYS: 1 = counter, 2 = log; ARGV: 1 = line payload, 2 = lines kept, 3 = ttl. Returns seq.
return append(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3])
