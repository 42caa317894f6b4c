"""One asyncio Redis client per event loop, for the live state that processes share."""
import asyncio
import weakref

import redis.asyncio as aioredis

_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, aioredis.Redis]]" = (
    weakref.WeakKeyDictionary()
)


def get_redis(url: str) -> aioredis.Redis:
    # A client's connections belong to the loop that opened them; daphne has one loop, tests
    # make one per test, so clients are kept per loop.
    loop = asyncio.get_running_loop()
    per_loop = _clients.setdefault(loop, {})
    client = per_loop.get(url)
    if client is None:
        client = aioredis.Redis.from_url(
            url, decode_responses=True, socket_timeout=None, health_check_interval=30
        )
        per_loop[url] = client
    return client
