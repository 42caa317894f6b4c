"""Live state that every server process must agree on.

- which socket (channel name) is a user's live one, so that a newer socket replaces it;
- which live conversation a user is in and with whom;
- each live conversation's line log: the server-assigned sequence that orders its lines for
  both sides, kept briefly (bounded, with an expiry) so that a side can fill a gap or replay
  what it missed;
- rate-limit counters.

`MemoryStore` keeps it in this process (the embedded default); `RedisStore` in Redis.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings

from chat.ratelimit import parse_rate


@dataclass
class LiveConversation:
    id: str
    mode: str
    members: dict[int, str]  # user id -> channel name


class LiveStore(Protocol):
    async def claim_socket(self, user_id: int, channel: str) -> str | None: ...
    async def release_socket(self, user_id: int, channel: str) -> None: ...
    async def socket_of(self, user_id: int) -> str | None: ...
    async def open_conversation(self, conversation: LiveConversation) -> None: ...
    async def conversation_of(self, user_id: int) -> LiveConversation | None: ...
    async def close_conversation(self, conversation_id: str) -> bool: ...
    async def append_line(self, conversation_id: str, line: dict[str, Any]) -> int: ...
    async def lines_after(self, conversation_id: str, seq: int) -> list[dict[str, Any]]: ...
    async def hit(self, key: str, rate: str) -> float | None: ...


LIVE_STATE_TTL = 24 * 3600


def _log_ttl() -> int:
    # Long enough for a side to reconnect and replay, short enough that lines do not linger.
    return max(300, 4 * settings.RECONNECT_GRACE_SECONDS)


class MemoryStore:
    def __init__(self) -> None:
        self.sockets: dict[int, str] = {}
        self.conversations: dict[str, LiveConversation] = {}
        self.user_conversation: dict[int, str] = {}
        self.logs: dict[str, list[dict[str, Any]]] = {}
        self.counters: dict[str, tuple[int, int]] = {}

    async def claim_socket(self, user_id: int, channel: str) -> str | None:
        old = self.sockets.get(user_id)
        self.sockets[user_id] = channel
        return old if old != channel else None

    async def release_socket(self, user_id: int, channel: str) -> None:
        if self.sockets.get(user_id) == channel:
            del self.sockets[user_id]

    async def socket_of(self, user_id: int) -> str | None:
        return self.sockets.get(user_id)

    async def open_conversation(self, conversation: LiveConversation) -> None:
        self.conversations[conversation.id] = conversation
        for user_id in conversation.members:
            self.user_conversation[user_id] = conversation.id
        self.logs[conversation.id] = []

    async def conversation_of(self, user_id: int) -> LiveConversation | None:
        conversation_id = self.user_conversation.get(user_id)
        return self.conversations.get(conversation_id) if conversation_id else None

    async def close_conversation(self, conversation_id: str) -> bool:
        conversation = self.conversations.pop(conversation_id, None)
        if conversation is None:
            return False
        for user_id in conversation.members:
            if self.user_conversation.get(user_id) == conversation_id:
                del self.user_conversation[user_id]
        self.logs.pop(conversation_id, None)
        return True

    async def append_line(self, conversation_id: str, line: dict[str, Any]) -> int:
        log = self.logs.setdefault(conversation_id, [])
        seq = log[-1]["seq"] + 1 if log else 1
        log.append({**line, "seq": seq})
        del log[: -settings.CONVERSATION_LOG_LINES]
        return seq

    async def lines_after(self, conversation_id: str, seq: int) -> list[dict[str, Any]]:
        return [line for line in self.logs.get(conversation_id, []) if line["seq"] > seq]

    async def hit(self, key: str, rate: str) -> float | None:
        limit, window = parse_rate(rate)
        now = time.time()
        bucket = int(now // window)
        seen_bucket, count = self.counters.get(key, (bucket, 0))
        count = count + 1 if seen_bucket == bucket else 1
        self.counters[key] = (bucket, count)
        if count > limit:
            return round((bucket + 1) * window - now, 2)
        return None


# KEYS: 1 = sequence counter, 2 = log list; ARGV: 1 = line json without seq, 2 = lines kept,
# 3 = ttl. The counter and the push happen together, so the log is always in sequence order.
APPEND_LINE_LUA = """
local seq = redis.call('INCR', KEYS[1])
redis.call('RPUSH', KEYS[2], seq .. '|' .. ARGV[1])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[2]), -1)
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return seq
"""

# KEYS: 1 = counter; ARGV: 1 = window seconds. Returns the count in this window and its ttl.
HIT_LUA = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}
"""

# KEYS: 1 = user's socket key; ARGV: 1 = channel. Deletes only the caller's own claim.
RELEASE_SOCKET_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS: 1 = conversation hash, then each member's conversation key.
CLOSE_CONVERSATION_LUA = """
local existed = redis.call('DEL', KEYS[1])
for i = 2, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('DEL', KEYS[i]) end
end
return existed
"""


class RedisStore:
    def __init__(self, url: str, prefix: str = "live") -> None:
        self.url = url
        self.prefix = prefix

    def _redis(self):  # noqa: ANN202 - redis.asyncio.Redis
        from chat.redis_client import get_redis

        return get_redis(self.url)

    def _key(self, *parts: object) -> str:
        return ":".join([self.prefix, *map(str, parts)])

    async def claim_socket(self, user_id: int, channel: str) -> str | None:
        old = await self._redis().set(self._key("socket", user_id), channel, get=True)
        return old if old != channel else None

    async def release_socket(self, user_id: int, channel: str) -> None:
        script = self._redis().register_script(RELEASE_SOCKET_LUA)
        await script(keys=[self._key("socket", user_id)], args=[channel])

    async def socket_of(self, user_id: int) -> str | None:
        return await self._redis().get(self._key("socket", user_id))

    async def open_conversation(self, conversation: LiveConversation) -> None:
        redis = self._redis()
        data = {"mode": conversation.mode,
                "members": json.dumps({str(k): v for k, v in conversation.members.items()})}
        async with redis.pipeline(transaction=True) as pipe:
            # The expiry only cleans up after processes that died without closing.
            pipe.hset(self._key("conv", conversation.id), mapping=data)
            pipe.expire(self._key("conv", conversation.id), LIVE_STATE_TTL)
            for user_id in conversation.members:
                pipe.set(self._key("user-conv", user_id), conversation.id, ex=LIVE_STATE_TTL)
            await pipe.execute()

    async def conversation_of(self, user_id: int) -> LiveConversation | None:
        redis = self._redis()
        conversation_id = await redis.get(self._key("user-conv", user_id))
        if not conversation_id:
            return None
        data = await redis.hgetall(self._key("conv", conversation_id))
        if not data:
            return None
        members = {int(k): v for k, v in json.loads(data["members"]).items()}
        return LiveConversation(id=conversation_id, mode=data["mode"], members=members)

    async def close_conversation(self, conversation_id: str) -> bool:
        redis = self._redis()
        data = await redis.hgetall(self._key("conv", conversation_id))
        members = json.loads(data["members"]) if data else {}
        script = redis.register_script(CLOSE_CONVERSATION_LUA)
        keys = [self._key("conv", conversation_id)]
        keys += [self._key("user-conv", user_id) for user_id in members]
        existed = await script(keys=keys, args=[conversation_id])
        await redis.delete(self._key("seq", conversation_id), self._key("log", conversation_id))
        return bool(existed)

    async def append_line(self, conversation_id: str, line: dict[str, Any]) -> int:
        script = self._redis().register_script(APPEND_LINE_LUA)
        return int(await script(
            keys=[self._key("seq", conversation_id), self._key("log", conversation_id)],
            args=[json.dumps(line, separators=(",", ":")), settings.CONVERSATION_LOG_LINES,
                  _log_ttl()],
        ))

    async def lines_after(self, conversation_id: str, seq: int) -> list[dict[str, Any]]:
        raw_lines = await self._redis().lrange(self._key("log", conversation_id), 0, -1)
        lines = []
        for raw in raw_lines:
            line_seq, _, payload = raw.partition("|")
            if int(line_seq) > seq:
                lines.append({**json.loads(payload), "seq": int(line_seq)})
        return lines

    async def hit(self, key: str, rate: str) -> float | None:
        limit, window = parse_rate(rate)
        script = self._redis().register_script(HIT_LUA)
        count, ttl_ms = await script(keys=[self._key("rl", key)], args=[window])
        if int(count) > limit:
            return round(max(int(ttl_ms), 0) / 1000, 2)
        return None


_store: MemoryStore | RedisStore | None = None


def get_store() -> MemoryStore | RedisStore:
    global _store
    if _store is None:
        _store = RedisStore(settings.REDIS_URL) if settings.REDIS_URL else MemoryStore()
    return _store


def reset_store() -> None:
    """Forget the backend, for tests that change settings."""
    global _store
    _store = None
