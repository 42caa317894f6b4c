"""The load generator's two engines (its steps in C, bench/native/loadgen.c, or in Python)
count the same faults: against a relay that loses, duplicates and reorders given lines, both
report exactly those, and nothing else, in the same figures."""
from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.server import serve

from bench.bare_relay import Peer, Relay
from bench.common import Server
from bench.loadgen import run_load

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs a C compiler")

LOST, DUPLICATED, EARLY, LATE = 2, 3, 6, 5  # line numbers of each sender


class FaultyRelay(Relay):
    """The bare relay, except that each sender's line LOST never reaches its partner,
    DUPLICATED reaches it twice and LATE comes after EARLY (all are acknowledged)."""

    def __init__(self) -> None:
        super().__init__()
        self.held: dict[int, dict[str, Any]] = {}

    async def on_message(self, peer: Peer, frame: dict[str, Any]) -> None:
        partner = peer.partner()
        number = int(str(frame.get("text", "")).split(":")[2])
        if partner is None or number not in (LOST, DUPLICATED, EARLY, LATE):
            await super().on_message(peer, frame)
            return
        line = {"type": "message", "id": f"{id(peer)}.{number}", "text": frame["text"],
                "ts": "", "filtered": False, "client_id": None, "from": "partner"}
        if number == LATE:
            self.held[id(peer)] = line
        elif number == DUPLICATED:
            await partner.send(line)
            await partner.send(line)
        elif number == EARLY:
            await partner.send(line)
            await partner.send(self.held.pop(id(peer)))
        await peer.send({**line, "client_id": frame.get("client_id"), "from": "me"})


async def run(engine: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("BENCH_LOADGEN", engine)
    relay = FaultyRelay()
    async with serve(relay.handle, "127.0.0.1", 0, compression=None, max_queue=None,
                     ping_interval=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        target = Server("faulty", port, None, Path("/dev/null"))  # type: ignore[arg-type]
        # 2 pairs, each side 10 lines (numbers 0-9) in a 1 s step.
        result = await run_load([(target, None)] * 4, [20.0], 1.0, drain=1.5)
    return result["steps"][0]


@pytest.mark.parametrize("engine", ["native", "python"])
def test_each_engine_counts_the_lost_duplicated_and_reordered_lines(
        engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    step = asyncio.run(run(engine, monkeypatch))
    assert step["loadgen_engine"] == engine
    senders = 4
    assert step["sent"] == 10 * senders
    assert (step["lost"], step["duplicated"], step["reordered"], step["ack_lost"]) == (
        senders, senders, senders, 0), step
    assert step["closed_sockets"] == 0 and step["unexpected_frames"] == {}, step
    # Latencies and the client's lag are there for every line that came (delivered: 9 each).
    assert step["partner_latency_ms"]["p50"] is not None
    assert step["client_lag_ms"]["p99"] is not None
    # The rate counts the lines that came inside the 1 s window (9 each at most, the
    # duplicate once); on a busy machine the last may come in the drain after it.
    assert 9 * senders - 2 <= step["delivered_lines_per_s"] <= 9 * senders
