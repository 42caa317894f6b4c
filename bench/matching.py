"""Matching benchmark: find -> matched when a compatible partner is already waiting.

For each of N pairs, one real guest sends `find` (with an interest and a language) and waits
in the queue; then a second sends the same `find`. Reported: the second's find -> matched and
the time until the waiting one hears `matched`, p50/p95/p99/max, with the bare relay's for
comparison. Pairs are made one after the other, so this is latency, not throughput.

    python bench/matching.py --pairs 200 [--json]
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    Server,
    guest_sessions,
    log,
    machine,
    print_json,
    print_table,
    ratio,
    servers,
    summary_ms,
)
from bench.loadgen import LoadRun, open_users  # noqa: E402

FIND = {"type": "find", "mode": "text", "interests": ["benchmarks"], "lang": "en"}
TIMEOUT = 10.0


async def pair_one_by_one(server: Server, sessions: list[str | None]) -> dict[str, Any]:
    run = LoadRun()
    seeker_times: list[float] = []
    waiting_times: list[float] = []
    try:
        users = await open_users([(server, s) for s in sessions], run)
        for waiting, seeker in zip(users[::2], users[1::2], strict=True):
            await waiting.send(FIND)
            await asyncio.wait_for(waiting.searching.wait(), TIMEOUT)
            await asyncio.sleep(0.01)  # the waiting side's queue entry is surely written
            started = time.monotonic()
            seeker.find_sent = started
            await seeker.send(FIND)
            await asyncio.wait_for(seeker.matched.wait(), TIMEOUT)
            seeker_times.append(time.monotonic() - started)
            await asyncio.wait_for(waiting.matched.wait(), TIMEOUT)
            waiting_times.append(max(0.0, time.monotonic() - started)
                                 if waiting.match_time is None else
                                 waiting.find_sent + waiting.match_time - started)
            if waiting.conversation != seeker.conversation:
                raise RuntimeError("the two were paired with someone else")
    finally:
        await asyncio.gather(*(u.ws.close() for u in run.users), return_exceptions=True)
    return {"pairs": len(seeker_times), "seeker_ms": summary_ms(seeker_times),
            "waiting_ms": summary_ms(waiting_times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="a tiny run, for the smoke test")
    parser.add_argument("--json", action="store_true", help="also print one JSON line")
    args = parser.parse_args()
    if args.quick:
        args.pairs = min(args.pairs, 5)
    with servers() as started:
        bare_server = started.bare()
        bare = asyncio.run(pair_one_by_one(bare_server, [None] * (2 * args.pairs)))
        bare_server.stop()
        daphne_server = started.daphne()
        log(f"creating {2 * args.pairs} guest users")
        sessions: list[str | None] = list(guest_sessions(daphne_server, 2 * args.pairs))
        daphne = asyncio.run(pair_one_by_one(daphne_server, sessions))
    rows = []
    for key, label in (("seeker_ms", "find -> matched (seeker)"),
                       ("waiting_ms", "find -> matched (waiting side)")):
        for q in ("p50", "p95", "p99", "max"):
            rows.append([f"{label} {q} ms", daphne[key][q], bare[key][q],
                         ratio(daphne[key][q], bare[key][q])])
    print_table(f"matching with a compatible partner waiting, {args.pairs} pairs "
                "(ratio = daphne / bare relay)", ["", "daphne", "bare", "ratio"], rows)
    if args.json:
        print_json("matching", {"machine": machine(), "daphne": daphne, "bare": bare})


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
