"""The hot path's Redis client: CPU per command of redis-py's asyncio client against the lean
connection (`chatsite.plumbing.resp`) in one run, on BENCH_REDIS_URL (bench/common.py).

Each client runs the same Lua script (two keys, five arguments, two numbers back, as the
line's `accept_line` does) one call after the other, awaiting each answer, as a quiet relay
does for each line; then 50 calls at once (the lean connection pipelines them in one write;
redis-py takes a pooled connection each). Figures: the process's CPU microseconds and the
wall microseconds per call, best of `--rounds` rounds.

    python bench/redis_client.py [--calls 3000] [--rounds 3] [--json] [--quick]
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis.asyncio as aioredis  # noqa: E402

from bench.common import machine, print_json, print_table, redis_url  # noqa: E402
from chatsite.plumbing.resp import LeanRedis  # noqa: E402

SCRIPT = "redis.call('INCR', KEYS[1]); return {tonumber(ARGV[1]) + 1, #KEYS[2]}"


async def timed(call: Callable[[int], Awaitable[Any]], calls: int, together: int
                ) -> tuple[float, float]:
    """(CPU us, wall us) per call: `calls` calls, `together` at a time."""
    cpu, wall = time.process_time(), time.perf_counter()
    for start in range(0, calls, together):
        await asyncio.gather(*(call(n) for n in range(start, start + together)))
    return ((time.process_time() - cpu) / calls * 1e6,
            (time.perf_counter() - wall) / calls * 1e6)


async def measure(url: str, calls: int, rounds: int) -> dict[str, dict[str, float]]:
    redis_py = aioredis.Redis.from_url(url, decode_responses=True, socket_timeout=None)
    lean = LeanRedis(url)
    scripts = {"redis-py": redis_py.register_script(SCRIPT), "lean": lean.script(SCRIPT)}
    args = ["bench", "x" * 200, 7200, 300, 600]
    results: dict[str, dict[str, float]] = {}
    for together in (1, 50):
        for name, script in scripts.items():

            async def call(n: int, script: Any = script) -> Any:
                return await script(keys=["bench:rc:n", "bench:rc:log"], args=[n, *args])

            await timed(call, 200, together)  # warm: connections open, script loaded
            measured = [await timed(call, calls, together) for _ in range(rounds)]
            best = min(measured, key=lambda figures: figures[0])
            results[f"{name}, {together} at a time"] = {"cpu_us_per_call": round(best[0], 1),
                                                        "wall_us_per_call": round(best[1], 1)}
    await redis_py.aclose()
    await lean.aclose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--quick", action="store_true", help="a tiny run, for the smoke test")
    args = parser.parse_args()
    if args.quick:
        args.calls, args.rounds = 100, 1
    results = asyncio.run(measure(redis_url(), args.calls, args.rounds))
    print_table(f"a Lua script call ({args.calls} calls, best of {args.rounds} rounds)",
                ["client", "CPU us per call", "wall us per call"],
                [[name, r["cpu_us_per_call"], r["wall_us_per_call"]]
                 for name, r in results.items()])
    if args.json:
        print_json("redis_client", {"machine": machine(), "figures": results})


if __name__ == "__main__":
    main()
