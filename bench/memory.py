"""Memory benchmark: server RSS before and after N idle connected sockets.

Each socket is a real guest user past its `welcome`, then left idle. The figure is the growth
of the daphne process's resident memory divided by N, next to the same for the bare relay.

    python bench/memory.py --sockets 500 [--json]
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
)
from bench.loadgen import LoadRun, open_users  # noqa: E402

WARM_UP_SOCKETS = 20
SETTLE_SECONDS = 2.0


async def idle_growth(server: Server, sessions: list[str | None]) -> dict[str, Any]:
    """RSS after warm-up sockets, then after the measured ones; KiB per idle socket."""
    run = LoadRun()
    warm, measured = sessions[:WARM_UP_SOCKETS], sessions[WARM_UP_SOCKETS:]
    try:
        await open_users([(server, s) for s in warm], run)
        await asyncio.sleep(SETTLE_SECONDS)
        before = server.rss_kib()
        await open_users([(server, s) for s in measured], run)
        await asyncio.sleep(SETTLE_SECONDS)
        after = server.rss_kib()
        still_open = sum(not u.closed for u in run.users)
    finally:
        await asyncio.gather(*(u.ws.close() for u in run.users), return_exceptions=True)
    return {"sockets": len(measured), "rss_before_kib": before, "rss_after_kib": after,
            "kib_per_socket": round((after - before) / len(measured), 1),
            "open_at_end": still_open - len(warm)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=500)
    parser.add_argument("--quick", action="store_true", help="a tiny run, for the smoke test")
    parser.add_argument("--json", action="store_true", help="also print one JSON line")
    args = parser.parse_args()
    if args.quick:
        args.sockets = min(args.sockets, 20)
    total = WARM_UP_SOCKETS + args.sockets
    with servers() as started:
        bare_server = started.bare()
        bare = asyncio.run(idle_growth(bare_server, [None] * total))
        bare_server.stop()
        daphne_server = started.daphne()
        log(f"creating {total} guest users")
        sessions: list[str | None] = list(guest_sessions(daphne_server, total))
        time.sleep(SETTLE_SECONDS)
        daphne = asyncio.run(idle_growth(daphne_server, sessions))
    rows = [[key.replace("_", " "), daphne[key], bare[key],
             ratio(daphne[key], bare[key]) if key == "kib_per_socket" else None]
            for key in ("sockets", "rss_before_kib", "rss_after_kib", "kib_per_socket",
                        "open_at_end")]
    print_table("memory per idle connected socket (ratio = daphne / bare relay)",
                ["", "daphne", "bare", "ratio"], rows)
    if args.json:
        print_json("memory", {"machine": machine(), "daphne": daphne, "bare": bare})


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
