"""Rules that run inside Redis as Lua, and the Redis they run in.

Each rule is one `.lua` file: the rate limit is `gcra.lua` beside this module (used by request
limits here and by the live store); the live rules are in `chat/lua/`. A script names what it
shares on its first line (`-- include: gcra, append`); loading puts `prelude.lua` (the
server's clock) first, then each included file once, then the script. `LuaRedis` registers
each script once per client.

With a Redis URL the scripts run in that Redis, shared by every server process. Without one
(the embedded default: one process, `make run`) they run in this process on fakeredis, whose
Lua (lupa) runs the very same files, so there is no second copy of any rule to keep equal.
"""
from __future__ import annotations

import asyncio
import weakref
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import redis
import redis.asyncio as aioredis

from chatsite.plumbing.runtime import runtime

HERE = Path(__file__).resolve().parent
INCLUDE = "-- include:"


def fake() -> ModuleType:
    """fakeredis, imported by a process that runs without a Redis URL only: with its Lua and
    numpy it is 0.1 s of every process's start-up, which a deployment on Redis never uses."""
    import fakeredis

    return fakeredis


def _read(name: str, directory: Path) -> str:
    own = directory / f"{name}.lua"
    return (own if own.exists() else HERE / f"{name}.lua").read_text()


@cache
def source(name: str, directory: Path = HERE) -> str:
    """The whole text of script `name` (looked up in `directory`, then here): the prelude,
    what it includes, then its own lines."""
    own = _read(name, directory)
    first = own.partition("\n")[0]
    included = ([part.strip() for part in first[len(INCLUDE):].split(",")]
                if first.startswith(INCLUDE) else [])
    parts = [_read("prelude", directory), *(_read(part, directory) for part in included)]
    return "\n".join([*parts, own])


class LuaRedis:
    """One backend's Redis: the client for the running event loop, and the scripts registered
    on it once. `url` empty: a Redis in this process (one per `LuaRedis`) running the same
    scripts."""

    def __init__(self, url: str, directory: Path = HERE) -> None:
        self.url = url
        self.directory = directory
        self.server = None if url else fake().FakeServer()
        # A client's connections belong to the loop that opened them (tests make one per test).
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = (
            weakref.WeakKeyDictionary())
        self._scripts: weakref.WeakKeyDictionary[aioredis.Redis, dict[str, Any]] = (
            weakref.WeakKeyDictionary())
        self._sync: redis.Redis | None = None
        self._sync_scripts: dict[str, Any] = {}

    def client(self) -> aioredis.Redis:
        if self.url:
            return runtime().redis(self.url)
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = fake().FakeAsyncRedis(
                server=self.server, decode_responses=True)
        return client

    def sync_client(self) -> redis.Redis:
        """A plain client on the same Redis, for sync code (tasks, views, commands; chat.store's
        `socket_now`, `lines_now`, request rate limits): no event loop involved."""
        if self.url:
            return runtime().sync_redis(self.url)
        if self._sync is None:
            self._sync = fake().FakeRedis(server=self.server, decode_responses=True)
        return self._sync

    def script(self, name: str) -> Any:  # redis.commands.core.AsyncScript
        """Script `name`, registered once on the running loop's client."""
        client = self.client()
        scripts = self._scripts.setdefault(client, {})
        script = scripts.get(name)
        if script is None:
            script = scripts[name] = client.register_script(source(name, self.directory))
        return script

    def lean_script(self, name: str) -> Any:  # plumbing.resp.LeanScript, or AsyncScript
        """Script `name` for the hot path (a line's): on the running loop's lean connection
        (`plumbing.resp`), called as `script` is; in this process's Redis without a URL."""
        if not self.url:
            return self.script(name)
        return runtime().lean_redis(self.url).script(source(name, self.directory))

    def sync_script(self, name: str) -> Any:  # redis.commands.core.Script
        """Script `name` on the plain client, registered once."""
        script = self._sync_scripts.get(name)
        if script is None:
            script = self._sync_scripts[name] = self.sync_client().register_script(
                source(name, self.directory))
        return script
