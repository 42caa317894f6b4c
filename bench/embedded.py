"""Embedded default benchmark: what the live rules cost with no Redis URL (one process,
`make run`), where the matcher and the live store run the project's Lua on fakeredis.

Run it in this tree, and in a tree before the change (where the embedded default was the
`MemoryMatcher`/`MemoryStore` mirrors; the script uses them when they exist) to compare:

    python bench/embedded.py

Measures, in-process, no sockets: a `find` that pairs with the queue empty and with 1,000
users waiting who fit nobody (300 each, p50/p99 in microseconds); one line accepted (rate
limit + number + log, 2,000 lines); reading back 200 logged lines; memory (tracemalloc) of
10,000 waiting users and of 1,000 conversations with 50 logged lines each; peak RSS.
"""
from __future__ import annotations

import asyncio
import gc
import itertools
import json
import os
import resource
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
os.environ.pop("REDIS_URL", None)

import django  # noqa: E402

django.setup()

import chat.matching as matching  # noqa: E402
import chat.store as store_module  # noqa: E402

LINE = {"sender": 1, "text": "hello there, how are you today?", "ts": "2026-11-28T10:00:00Z",
        "filtered": False, "client_id": None}


def new_matcher() -> Any:
    if hasattr(matching, "MemoryMatcher"):  # a tree before the change
        return matching.MemoryMatcher()
    return matching.RedisMatcher("")


def new_store() -> Any:
    if hasattr(store_module, "MemoryStore"):  # a tree before the change
        return store_module.MemoryStore()
    return store_module.RedisStore("")


def percentile(values: list[float], p: float) -> int:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1e6)


async def main() -> None:
    out: dict[str, Any] = {}
    ids = itertools.count(1)

    def seeker(**fields: Any) -> matching.Seeker:
        uid = next(ids)
        return matching.Seeker(user_id=uid, channel=f"c{uid}", mode="text", handle=f"H{uid}",
                               **fields)

    for waiting in (0, 1000):
        matcher = new_matcher()
        for n in range(waiting):  # interests of their own: they wait for them, nobody pairs
            await matcher.find_partner(seeker(lang="en" if n % 2 else f"l{n % 10}",
                                              interests=[f"own{n}"]))
        times = []
        for _ in range(300):
            await matcher.find_partner(seeker(lang="en", interests=["chess"]))
            started = time.perf_counter()
            result = await matcher.find_partner(seeker(lang="en", interests=["chess"]))
            times.append(time.perf_counter() - started)
            assert isinstance(result, matching.Pairing)
        out[f"find that pairs, {waiting} waiting, p50/p99 us"] = (
            percentile(times, 50), percentile(times, 99))
    store = new_store()
    times = []
    for _ in range(2000):
        started = time.perf_counter()
        await store.accept_line("conv", LINE, "rate", "1000000/s")
        times.append(time.perf_counter() - started)
    out["line accepted p50/p99 us"] = (percentile(times, 50), percentile(times, 99))
    times = []
    for _ in range(300):
        started = time.perf_counter()
        await store.lines_after("conv", 0)
        times.append(time.perf_counter() - started)
    out["200 logged lines read back p50 us"] = percentile(times, 50)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    matcher = new_matcher()
    for n in range(10_000):
        await matcher.find_partner(seeker(lang="en", interests=[f"own{n}", f"two{n}"]))
    gc.collect()
    out["10,000 waiting: MB"] = round((tracemalloc.get_traced_memory()[0] - base) / 1e6, 1)
    base = tracemalloc.get_traced_memory()[0]
    store = new_store()
    for conversation in range(1000):
        for _ in range(50):
            await store.append_line(f"conv{conversation}", LINE)
    gc.collect()
    out["1,000 conversations x 50 lines: MB"] = round(
        (tracemalloc.get_traced_memory()[0] - base) / 1e6, 1)
    tracemalloc.stop()
    out["peak RSS MB"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main())
