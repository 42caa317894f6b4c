"""The live rules that run inside Redis, and the Redis they run in.

Each rule is one `.lua` file beside this module: pairing (`find_partner.lua`), the rate limit
(`gcra.lua`), the live log (`append.lua`). A script names what it shares on its first line
(`-- include: gcra, append`); loading puts `prelude.lua` (the server's clock) first, then each
included file once, then the script. `LuaRedis` registers each script once per client.

With a Redis URL the scripts run in that Redis, shared by every server process. Without one
(the embedded default: one process, `make run`) they run in this process on fakeredis, whose
Lua (lupa) runs the very same files, so there is no second copy of any rule to keep equal.
"""
from __future__ import annotations

import asyncio
import weakref
from functools import cache
from pathlib import Path
from typing import Any

import fakeredis
import redis
import redis.asyncio as aioredis

from chatsite.plumbing.redis_client import get_redis, get_sync_redis

HERE = Path(__file__).resolve().parent
INCLUDE = "-- include:"


@cache
def source(name: str) -> str:
    """The whole text of script `name`: the prelude, what it includes, then its own lines."""
    own = (HERE / f"{name}.lua").read_text()
    first = own.partition("\n")[0]
    included = ([part.strip() for part in first[len(INCLUDE):].split(",")]
                if first.startswith(INCLUDE) else [])
    parts = [(HERE / "prelude.lua").read_text()]
    parts += [(HERE / f"{part}.lua").read_text() for part in included]
    return "\n".join([*parts, own])


class LuaRedis:
    """One backend's Redis: the client for the running event loop, and the scripts registered
    on it once. `url` empty: a Redis in this process (one per `LuaRedis`), running the same
    scripts."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.server = None if url else fakeredis.FakeServer()
        # A client's connections belong to the loop that opened them (tests make one per test).
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = (
            weakref.WeakKeyDictionary())
        self._scripts: weakref.WeakKeyDictionary[aioredis.Redis, dict[str, Any]] = (
            weakref.WeakKeyDictionary())
        self._sync: redis.Redis | None = None

    def client(self) -> aioredis.Redis:
        if self.url:
            return get_redis(self.url)
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = fakeredis.FakeAsyncRedis(
                server=self.server, decode_responses=True)
        return client

    def sync_client(self) -> redis.Redis:
        """A plain client for sync code (tasks, views, commands): no event loop involved."""
        if self.url:
            return get_sync_redis(self.url)
        if self._sync is None:
            self._sync = fakeredis.FakeRedis(server=self.server, decode_responses=True)
        return self._sync

    def script(self, name: str) -> Any:  # redis.commands.core.AsyncScript
        """Script `name`, registered once on the running loop's client."""
        client = self.client()
        scripts = self._scripts.setdefault(client, {})
        script = scripts.get(name)
        if script is None:
            script = scripts[name] = client.register_script(source(name))
        return script
