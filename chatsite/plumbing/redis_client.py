"""The process's Redis clients: one asyncio client per event loop and URL for the live path,
one plain client per URL for sync code (Celery tasks, management commands, views, admin).

Sync code never wraps the asyncio client in `async_to_sync`: that starts an event loop per
call and leaves a client (and its connections) behind each time. `RedisClients` is held once
per process (`CLIENTS`), opened on first use and closed at shutdown (`close_clients`, called
by the Celery worker's shutdown signal and at interpreter exit).
"""
from __future__ import annotations

import asyncio
import atexit
import weakref

import redis
import redis.asyncio as aioredis


class RedisClients:
    """The clients one process holds open."""

    def __init__(self) -> None:
        # A client's connections belong to the loop that opened them; daphne has one loop,
        # tests make one per test, so asyncio clients are kept per loop (and go with it).
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop,
                                               dict[str, aioredis.Redis]] = (
            weakref.WeakKeyDictionary())
        self._sync: dict[str, redis.Redis] = {}

    def asyncio_client(self, url: str) -> aioredis.Redis:
        per_loop = self._async.setdefault(asyncio.get_running_loop(), {})
        client = per_loop.get(url)
        if client is None:
            client = per_loop[url] = aioredis.Redis.from_url(
                url, decode_responses=True, socket_timeout=None, health_check_interval=30)
        return client

    def sync_client(self, url: str) -> redis.Redis:
        client = self._sync.get(url)
        if client is None:
            client = self._sync[url] = redis.Redis.from_url(
                url, decode_responses=True, health_check_interval=30)
        return client

    def close(self) -> None:
        for client in self._sync.values():
            client.close()
        self._sync.clear()


CLIENTS = RedisClients()
atexit.register(CLIENTS.close)


def get_redis(url: str) -> aioredis.Redis:
    return CLIENTS.asyncio_client(url)


def get_sync_redis(url: str) -> redis.Redis:
    return CLIENTS.sync_client(url)


def close_clients() -> None:
    CLIENTS.close()
