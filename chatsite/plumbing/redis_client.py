"""The process's Redis clients, from its runtime (`chatsite.plumbing.runtime`): an asyncio
client per event loop for the live path, a plain client for sync code."""
from __future__ import annotations

import redis
import redis.asyncio as aioredis

from chatsite.plumbing.runtime import runtime


def get_redis(url: str) -> aioredis.Redis:
    return runtime().redis(url)


def get_sync_redis(url: str) -> redis.Redis:
    return runtime().sync_redis(url)
