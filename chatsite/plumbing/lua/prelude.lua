-- Included once at the top of every script (chat/lua/__init__.py): the server's clock, so
-- that every process and the embedded default decide by one time.
local TIME = redis.call('TIME')
local now = tonumber(TIME[1]) * 1000 + math.floor(tonumber(TIME[2]) / 1000)
