"""Live state that every server process must agree on.

- which socket (channel name) is a user's live one, so that a newer socket replaces it;
- each live conversation: its members, the channel each is reached on, and whether a member
  is away (its socket dropped; it may come back within the grace window, on any process);
- each live conversation's line log: the server-assigned sequence that orders its lines for
  both sides, kept briefly (bounded, with an expiry) so that a side can fill a gap or replay
  what it missed after a reconnect;
- which server processes are alive, so that a partner on a dead process is noticed;
- rate-limit counters.

`RedisStore` keeps it in Redis, where every decision that two processes could race on is one
Lua script in `chat/lua/` (the live log is `append.lua`; the rate limit is plumbing's
`gcra.lua`); with no Redis URL (the embedded default) the same scripts run in this process.
"""
from __future__ import annotations

import asyncio
import json
import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.conf import settings

from chat.lua import LuaRedis
from chat.relay import to_json
from chatsite.plumbing.crypto import open_line_text, seal_line_text
from chatsite.plumbing.ratelimit import parse_rate
from chatsite.plumbing.runtime import runtime

# Only cleans up after processes that died without closing their conversations.
LIVE_STATE_TTL = 24 * 3600


@dataclass
class Member:
    user_id: int
    channel: str
    handle: str
    keeps_history: bool
    away_since_ms: int | None = None
    practice: str | None = None  # the language this side practises (section 3)


@dataclass
class LiveConversation:
    id: str
    mode: str
    initiator_id: int
    common_interests: list[str]
    members: dict[int, Member] = field(default_factory=dict)
    # The contact id of an accepted invitation (section 5): a direct conversation.
    contact: str | None = None

    def partner_of(self, user_id: int) -> Member:
        return next(m for uid, m in self.members.items() if uid != user_id)

    def to_json(self) -> str:
        return json.dumps({
            "id": self.id, "mode": self.mode, "initiator_id": self.initiator_id,
            "common_interests": self.common_interests,
            "members": {str(uid): m.__dict__ for uid, m in self.members.items()},
            "contact": self.contact,
        }, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str) -> LiveConversation:
        return cls.from_dict(json.loads(raw))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LiveConversation:
        """From its JSON's value (written here or by `pair.lua`)."""
        members = data.pop("members")
        if not isinstance(data["common_interests"], list):  # cjson writes [] as {}
            data["common_interests"] = []
        return cls(**data, members={int(uid): Member(**m) for uid, m in members.items()})


def now_ms() -> int:
    return int(time.time() * 1000)


def process_of(channel: str) -> str:
    """The process part of a channel name (`specific.<process>!<socket>`)."""
    return channel.partition(".")[2].partition("!")[0]


class LiveStore(Protocol):
    async def claim_socket(self, user_id: int, channel: str) -> str | None: ...
    async def release_socket(self, user_id: int, channel: str) -> None: ...
    async def socket_of(self, user_id: int) -> str | None: ...
    async def open_conversation(self, conversation: LiveConversation) -> bool: ...
    async def conversation(self, conversation_id: str) -> LiveConversation | None: ...
    async def conversation_of(self, user_id: int) -> LiveConversation | None: ...
    async def mark_away(self, conversation_id: str, user_id: int, channel: str) -> bool: ...
    async def rejoin(self, conversation_id: str, user_id: int, channel: str,
                     grace_ms: int) -> LiveConversation | None: ...
    async def close_if_away(self, conversation_id: str, user_id: int, grace_ms: int) -> bool: ...
    async def close_conversation(self, conversation_id: str) -> bool: ...
    async def append_line(self, conversation_id: str, line: dict[str, Any]) -> int: ...
    async def accept_line(self, conversation_id: str, line: dict[str, Any], rate_key: str,
                          rate: str, sealed: str | None = None
                          ) -> tuple[int | None, float | None]: ...
    async def last_seqs(self, conversation_ids: list[str]) -> list[int]: ...
    async def lines_after(self, conversation_id: str, seq: int) -> list[dict[str, Any]]: ...
    async def hit(self, key: str, rate: str) -> float | None: ...
    async def beat(self, process: str, ttl_s: int) -> None: ...
    async def process_alive(self, process: str) -> bool: ...
    async def add_address_socket(self, address: str, channel: str, limit: int) -> bool: ...
    async def remove_address_socket(self, address: str, channel: str) -> None: ...
    async def refresh_address_sockets(self, sockets: list[tuple[str, str]]) -> None: ...


# A socket's place in its address's count lasts this long unless its process renews it, so
# that sockets of a process that died stop counting.
ADDRESS_SOCKET_TTL_MS = 90_000


def seal_line(line: dict[str, Any]) -> str:
    """A line's entry in the live log: its JSON, encrypted (`plumbing.crypto.seal_line_text`),
    so that a Redis dump or a replica does not show what people said. The relay hands the same
    entry to the analysis queue (`moderation.analysis.logged_line_relayed`): one encryption
    per line."""
    return seal_line_text(to_json(line))


def log_ttl() -> int:
    # Long enough for a side to reconnect and replay, short enough that lines do not linger.
    return max(300, 4 * settings.RECONNECT_GRACE_SECONDS)


class ScriptBatch:
    """Calls of one batch-form Lua script, sent to Redis as one call of it: under load many
    sockets accept a line at about the same time, and one script call for all of them costs
    Redis and redis-py far less than one call each (above all the write to Redis's socket,
    a system call each). The script takes its calls' keys and arguments one call after the
    other and answers `answers_each` values a call, in order.

    One batch is on its way at a time: calls made meanwhile wait for its answer and then go
    together (a group commit), so batches grow with the load by themselves; a lone call, with
    nothing on its way, goes at the end of the loop turn it was made in."""

    def __init__(self, script: Any, answers_each: int) -> None:
        self.script = script  # plumbing.resp.LeanScript (or redis-py's AsyncScript)
        self.answers_each = answers_each
        self.keys: list[Any] = []
        self.args: list[Any] = []
        self.futures: list[asyncio.Future] = []
        self.busy = False  # a batch is on its way, or about to leave

    def call(self, keys: list[str], args: list[Any]) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        if not self.busy:
            self.busy = True
            loop.call_soon(self._flush)
        self.keys += keys
        self.args += args
        self.futures.append(future)
        return future

    def _flush(self) -> None:
        if not self.futures:
            self.busy = False
            return
        batch = self.keys, self.args, self.futures
        self.keys, self.args, self.futures = [], [], []
        asyncio.get_running_loop().create_task(self._send(*batch))

    async def _send(self, keys: list[Any], args: list[Any],
                    futures: list[asyncio.Future]) -> None:
        try:
            # redis-py loads the script again into a Redis that lost it (restarted).
            answers = await self.script(keys=keys, args=args)
        except Exception as error:  # noqa: BLE001 - each caller gets the error
            for future in futures:
                if not future.done():
                    future.set_exception(error)
        else:
            each = self.answers_each
            for n, future in enumerate(futures):
                if not future.done():
                    future.set_result(answers[n * each:(n + 1) * each])
        finally:
            self._flush()  # what gathered meanwhile, together


class RedisStore:
    """The live state in Redis at `url`, or, with no URL, in this process: the same scripts."""

    def __init__(self, url: str, prefix: str = "live") -> None:
        self.lua = LuaRedis(url)
        self.prefix = prefix
        # One batch per event loop, on that loop's client (the runtime's, one per loop).
        self._batches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ScriptBatch] = \
            weakref.WeakKeyDictionary()
        self._rates: dict[str, tuple[int, int]] = {}
        # `conversation`'s reads, batched per event loop as the lines are.
        self._conversation_reads: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, ScriptBatch] = weakref.WeakKeyDictionary()

    def _redis(self):  # noqa: ANN202 - redis.asyncio.Redis
        return self.lua.client()

    def _script(self, name: str):  # noqa: ANN202 - redis.commands.core.AsyncScript
        return self.lua.script(name)

    def _key(self, *parts: object) -> str:
        return ":".join([self.prefix, *map(str, parts)])

    async def claim_socket(self, user_id: int, channel: str) -> str | None:
        old = await self._redis().set(self._key("socket", user_id), channel, get=True,
                                      ex=LIVE_STATE_TTL)
        return old if old != channel else None

    async def release_socket(self, user_id: int, channel: str) -> None:
        await self._script("release_socket")(keys=[self._key("socket", user_id)],
                                               args=[channel])

    async def socket_of(self, user_id: int) -> str | None:
        return await self._redis().get(self._key("socket", user_id))

    async def open_conversation(self, conversation: LiveConversation) -> bool:
        """False, opening nothing, when a member is in a live conversation already."""
        keys = [self._key("conv", conversation.id)]
        keys += [self._key("user-conv", user_id) for user_id in conversation.members]
        return bool(await self._script("open_conversation")(
            keys=keys, args=[conversation.id, conversation.to_json(), LIVE_STATE_TTL,
                             self._key("conv", "")]))

    def opening_args(self, conversation_id: str) -> list[object]:
        """What `pair.lua` needs to open conversation `conversation_id` in the step that
        pairs: its id, where conversations and users' conversations are kept, their ttl."""
        return [conversation_id, self._key("conv", ""), self._key("user-conv", ""),
                LIVE_STATE_TTL]

    def rate_args(self, key: str, rate: str) -> list[object]:
        """A rate limit (`hit(key, rate)`) for a script that checks it in its own step."""
        limit, window = self._parsed_rate(rate)
        return [self._key("rl", key), limit, window * 1000]

    def _parsed_rate(self, rate: str) -> tuple[int, int]:
        """`parse_rate(rate)`, parsed once per rate string (it is read for every line)."""
        parsed = self._rates.get(rate)
        if parsed is None:
            parsed = self._rates[rate] = parse_rate(rate)
        return parsed

    async def conversation(self, conversation_id: str) -> LiveConversation | None:
        """The live conversation `conversation_id`, in one read; None once it has closed.
        The reads of one event loop made while one is on its way go together in one MGET
        (`ScriptBatch`'s group commit): a burst of pairings costs a few writes to Redis's
        socket instead of one each."""
        loop = asyncio.get_running_loop()
        reads = self._conversation_reads.get(loop)
        if reads is None:
            reads = self._conversation_reads[loop] = ScriptBatch(self._read_many,
                                                                 answers_each=1)
        (raw,) = await reads.call([self._key("conv", conversation_id)], [])
        return LiveConversation.from_json(raw) if raw else None

    async def _read_many(self, keys: list[str], args: list[Any]) -> list[str | None]:
        """MGET of `keys`, on the lean connection when there is a Redis URL."""
        if self.lua.url:
            return await runtime().lean_redis(self.lua.url).execute("MGET", *keys)
        return await self._redis().mget(keys)

    async def conversation_of(self, user_id: int) -> LiveConversation | None:
        redis = self._redis()
        conversation_id = await redis.get(self._key("user-conv", user_id))
        if not conversation_id:
            return None
        raw = await redis.get(self._key("conv", conversation_id))
        return LiveConversation.from_json(raw) if raw else None

    async def mark_away(self, conversation_id: str, user_id: int, channel: str) -> bool:
        return bool(await self._script("mark_away")(
            keys=[self._key("conv", conversation_id)], args=[user_id, channel]))

    async def rejoin(self, conversation_id: str, user_id: int, channel: str,
                     grace_ms: int) -> LiveConversation | None:
        raw = await self._script("rejoin")(
            keys=[self._key("conv", conversation_id)], args=[user_id, channel, grace_ms])
        return LiveConversation.from_json(raw) if raw else None

    async def _close(self, conversation_id: str, away_user: int | None, grace_ms: int) -> bool:
        raw = await self._redis().get(self._key("conv", conversation_id))
        if not raw:
            return False
        members = LiveConversation.from_json(raw).members
        keys = [self._key("conv", conversation_id)]
        keys += [self._key("user-conv", user_id) for user_id in members]
        return bool(await self._script("close")(
            keys=keys, args=[conversation_id, away_user or "", grace_ms]))

    async def close_if_away(self, conversation_id: str, user_id: int, grace_ms: int) -> bool:
        return await self._close(conversation_id, user_id, grace_ms)

    async def close_conversation(self, conversation_id: str) -> bool:
        return await self._close(conversation_id, None, 0)

    async def append_line(self, conversation_id: str, line: dict[str, Any]) -> int:
        return int(await self._script("append_line")(
            keys=[self._key("seq", conversation_id), self._key("log", conversation_id)],
            args=[seal_line(line), settings.CONVERSATION_LOG_LINES, log_ttl()],
        ))

    async def lines_after(self, conversation_id: str, seq: int) -> list[dict[str, Any]]:
        raw_lines = await self._redis().lrange(self._key("log", conversation_id), 0, -1)
        return self._decoded(raw_lines, seq)

    def lines_now(self, conversation_id: str) -> list[dict[str, Any]]:
        """`lines_after(conversation_id, 0)` for sync code (tasks, views), on a sync client."""
        return self._decoded(self.lua.sync_client().lrange(self._key("log", conversation_id),
                                                           0, -1), 0)

    def socket_now(self, user_id: int) -> str | None:
        """`socket_of` for sync code, on a sync client."""
        return self.lua.sync_client().get(self._key("socket", user_id))

    def sockets_now(self, user_ids: list[int]) -> list[str | None]:
        """`socket_of` of several users in one round trip, for sync code."""
        if not user_ids:
            return []
        return self.lua.sync_client().mget([self._key("socket", user_id)
                                            for user_id in user_ids])

    @staticmethod
    def _decoded(raw_lines: list[str], seq: int) -> list[dict[str, Any]]:
        lines = []
        for raw in raw_lines:
            line_seq, _, payload = raw.partition("|")
            if int(line_seq) > seq:
                line = json.loads(open_line_text(payload))
                lines.append({**line, "seq": int(line_seq)})
        return lines

    async def hit(self, key: str, rate: str) -> float | None:
        limit, window = self._parsed_rate(rate)
        wait_ms = await self._script("hit")(keys=[self._key("rl", key)],
                                              args=[limit, window * 1000])
        return int(wait_ms) / 1000 if int(wait_ms) else None

    def _accept_batch(self) -> ScriptBatch:
        # Found by the loop, not by the client: asking the runtime for the client costs more
        # per line than the rest of this method.
        loop = asyncio.get_running_loop()
        batch = self._batches.get(loop)
        if batch is None:
            batch = self._batches[loop] = ScriptBatch(self.lua.lean_script("accept_line"),
                                                      answers_each=2)
        return batch

    async def accept_line(self, conversation_id: str, line: dict[str, Any], rate_key: str,
                          rate: str, sealed: str | None = None
                          ) -> tuple[int | None, float | None]:
        """The sender's rate limit, then the line's number and its log entry (`sealed`, made
        by `seal_line(line)` when not given), in one round trip: (seq, None), or (None,
        seconds to wait) when the limit refuses the line, which is then not logged."""
        limit, window = self._parsed_rate(rate)
        payload = sealed if sealed is not None else seal_line(line)
        prefix = self.prefix
        seq, wait_ms = await self._accept_batch().call(
            [f"{prefix}:rl:{rate_key}", f"{prefix}:seq:{conversation_id}",
             f"{prefix}:log:{conversation_id}"],
            [limit, window * 1000, payload, settings.CONVERSATION_LOG_LINES, log_ttl()])
        if int(wait_ms):
            return None, int(wait_ms) / 1000
        return int(seq), None

    async def last_seqs(self, conversation_ids: list[str]) -> list[int]:
        """Each conversation's last line number, in one round trip."""
        if not conversation_ids:
            return []
        values = await self._redis().mget([self._key("seq", c) for c in conversation_ids])
        return [int(value or 0) for value in values]

    async def beat(self, process: str, ttl_s: int) -> None:
        await self._redis().set(self._key("process", process), "1", ex=ttl_s)

    async def process_alive(self, process: str) -> bool:
        return bool(await self._redis().exists(self._key("process", process)))

    async def add_address_socket(self, address: str, channel: str, limit: int) -> bool:
        return bool(await self._script("add_address_socket")(
            keys=[self._key("address", address)], args=[channel, limit, ADDRESS_SOCKET_TTL_MS]))

    async def remove_address_socket(self, address: str, channel: str) -> None:
        await self._redis().zrem(self._key("address", address), channel)

    async def refresh_address_sockets(self, sockets: list[tuple[str, str]]) -> None:
        expiry = now_ms() + ADDRESS_SOCKET_TTL_MS
        async with self._redis().pipeline(transaction=False) as pipe:
            for address, channel in sockets:
                pipe.zadd(self._key("address", address), {channel: expiry}, xx=True)
                pipe.pexpire(self._key("address", address), ADDRESS_SOCKET_TTL_MS)
            await pipe.execute()


def get_store() -> RedisStore:
    """The process's live store, held by its runtime."""
    return runtime().part("store", lambda: RedisStore(settings.REDIS_URL))


def reset_store() -> None:
    """Forget the backend, for tests that change settings."""
    runtime().forget("store")
