"""One runtime per process: everything a process holds open, in one object.

A process (daphne, a Celery worker, a management command, a test run) has one `Runtime`,
reached with `runtime()`. It holds the Redis clients (an asyncio client per event loop and
URL for the live path, one plain client per URL for sync code) and the parts the apps open
there: the live store, the matcher, the history writer, the analysis outbox and its local
queue. Parts are made on first use in the process and closed at shutdown: `Runtime.aclose`
from daphne's SIGTERM handler (chat.lifecycle), `Runtime.close` on Celery's
`worker_process_shutdown` (chatsite.celery) and at interpreter exit.

Sync code (tasks, commands, views, admin actions) uses `sync_redis`, never `async_to_sync`
around the asyncio client: that starts an event loop per call and leaves a client (and its
connections) behind each time. Tests that change settings `forget` a part so that it is made
again with the new settings.

`RUNTIME` below is the one module-level object that holds state; every other module asks it.
"""
from __future__ import annotations

import asyncio
import atexit
import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import redis
import redis.asyncio as aioredis

from chatsite.plumbing.resp import LeanRedis

T = TypeVar("T")


class Runtime:
    def __init__(self) -> None:
        self._lock = threading.RLock()  # a part made on first use may use another part
        self._parts: dict[str, Any] = {}
        # A client's connections, and tasks, belong to the loop that opened them; daphne has
        # one loop, tests make one per test, so per-loop parts go with their loop.
        self._per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop,
                                                  dict[str, Any]] = weakref.WeakKeyDictionary()
        self._sync_clients: dict[str, redis.Redis] = {}

    # ---- Redis

    def redis(self, url: str) -> aioredis.Redis:
        """The asyncio client for `url` on the running event loop."""
        return self.loop_part(f"redis:{url}", lambda: aioredis.Redis.from_url(
            url, decode_responses=True, socket_timeout=None, health_check_interval=30))

    def lean_redis(self, url: str) -> LeanRedis:
        """The hot path's connection to `url` on the running event loop (`plumbing.resp`)."""
        return self.loop_part(f"lean-redis:{url}", lambda: LeanRedis(url))

    def sync_redis(self, url: str) -> redis.Redis:
        """The plain client for `url`, shared by the process's threads (it is a pool)."""
        with self._lock:
            client = self._sync_clients.get(url)
            if client is None:
                # A timeout: a task or command waits on a dead Redis for 10 s, not forever.
                client = self._sync_clients[url] = redis.Redis.from_url(
                    url, decode_responses=True, socket_timeout=10, health_check_interval=30)
            return client

    # ---- the apps' parts

    def part(self, name: str, make: Callable[[], T]) -> T:
        """The process's one `name`, made by `make` on first use."""
        with self._lock:
            if name not in self._parts:
                self._parts[name] = make()
            return self._parts[name]

    def loop_part(self, name: str, make: Callable[[], T]) -> T:
        """The running event loop's one `name`, made by `make` on first use there."""
        parts = self._per_loop.setdefault(asyncio.get_running_loop(), {})
        if name not in parts:
            parts[name] = make()
        return parts[name]

    def forget(self, *names: str) -> None:
        """Drop parts (tests that change settings); the next use makes them again."""
        with self._lock:
            for name in names:
                self._parts.pop(name, None)

    # ---- shutdown

    async def aclose(self) -> None:
        """Close what the running loop holds (its Redis clients), then the rest."""
        parts = self._per_loop.pop(asyncio.get_running_loop(), {})
        for part in parts.values():
            if isinstance(part, aioredis.Redis | LeanRedis):
                await part.aclose()
        self.close()

    def close(self) -> None:
        # The parts hold no connections of their own (they use the runtime's clients): they
        # are dropped, and the clients closed.
        with self._lock:
            clients, self._sync_clients = list(self._sync_clients.values()), {}
            self._parts = {}
        for client in clients:
            client.close()


RUNTIME = Runtime()
atexit.register(RUNTIME.close)


def runtime() -> Runtime:
    """This process's runtime."""
    return RUNTIME
