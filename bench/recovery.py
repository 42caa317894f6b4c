"""Recovery benchmark: how long users wait after each fault before they chat again.

Two daphne processes share Redis; guest A is on the first, B on the second. For each fault
the command measures, from the moment of the fault, when B is told that A is reconnecting,
and when A (a client that reconnects at once, as the page does) has resumed the conversation
on a live process. PostgreSQL and Redis faults are made on servers the command starts itself
(a TCP proxy in front of PostgreSQL, its own redis-server), never on the machine's services.

    python bench/recovery.py [--rounds 3] [--json]
"""
from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent / "shared" / "tools"))

from chatclient import ContractError, Socket, guest_session  # noqa: E402

from bench.common import (  # noqa: E402
    Servers,
    database_url,
    log,
    machine,
    print_json,
    print_table,
    servers,
    summary_ms,
)
from tests.faults import OwnRedis, TcpProxy  # noqa: E402


def pair(url_a: str, url_b: str) -> tuple[Socket, str, Socket, str]:
    session_a, session_b = guest_session(url_a), guest_session(url_b)
    a, b = Socket(url_a, session_a), Socket(url_b, session_b)
    for s in (a, b):
        s.expect("welcome")
        s.send({"type": "find", "mode": "text"})
    conversation = a.expect("matched", 20)["conversation"]
    b.expect("matched", 20)
    return a, session_a, b, conversation


def resume_until(url: str, session: str, conversation: str, timeout: float = 30) -> float:
    """Reconnect and resume until it works; the moment it did."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket_ = Socket(url, session, timeout=5)
            socket_.expect("welcome", 5)
            socket_.send({"type": "resume", "conversation": conversation, "after": None})
            socket_.expect("resumed", 5)
            done = time.monotonic()
            socket_.close()
            return done
        except (ContractError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def until_told(socket_: Socket, kinds: tuple[str, ...], timeout: float = 30) -> float:
    """When the first frame of one of `kinds` arrived."""
    deadline = time.monotonic() + timeout
    while True:
        frame = socket_.recv(max(0.1, deadline - time.monotonic()))
        if frame is None:
            raise ContractError("closed while waiting")
        if frame["type"] in kinds:
            return time.monotonic()


def process_fault(started: Servers, sig: int) -> dict[str, float]:
    one, two = started.daphne(), started.daphne()
    a, session_a, b, conversation = pair(one.url, two.url)
    fault = time.monotonic()
    one.process.send_signal(sig)
    resumed = resume_until(two.url, session_a, conversation)
    # A partner on a killed process may be back before the heartbeat says it is gone.
    told = until_told(b, ("partner_reconnecting", "partner_back"))
    for s in (a, b):
        s.close()
    one.stop()
    two.stop()
    return {"partner_told_s": told - fault, "resumed_s": resumed - fault}


def redis_restart(started: Servers, tmp: Path) -> dict[str, float]:
    own = OwnRedis(tmp)
    own.start()
    try:
        env = {"REDIS_URL": own.url}
        one, two = started.daphne(env), started.daphne(env)
        a, session_a, b, conversation = pair(one.url, two.url)
        fault = time.monotonic()
        own.stop()
        own.start()
        resumed = resume_until(one.url, session_a, conversation)
        for s in (a, b):
            s.close()
        one.stop()
        two.stop()
        return {"resumed_s": resumed - fault}
    finally:
        own.stop()


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=5):
            return True
    except (urllib.error.URLError, OSError):
        return False


def postgres_outage(started: Servers, outage_s: float) -> dict[str, float]:
    from urllib.parse import urlparse

    db = urlparse(database_url())
    proxy = TcpProxy((db.hostname or "127.0.0.1", db.port or 5432))
    try:
        via_proxy = db._replace(netloc=f"{db.username or 'postgres'}@127.0.0.1:{proxy.port}")
        server = started.daphne({"DATABASE_URL": via_proxy.geturl()})
        a, session_a, b, _ = pair(server.url, server.url)
        proxy.cut()
        time.sleep(outage_s)
        restored = time.monotonic()
        proxy.restore()
        while not healthy(server.url):
            time.sleep(0.05)
        back = time.monotonic()
        fresh = Socket(server.url, guest_session(server.url))
        fresh.expect("welcome")
        socket_back = time.monotonic()
        for s in (a, b, fresh):
            s.close()
        server.stop()
        return {"healthy_s": back - restored, "new_socket_s": socket_back - restored}
    finally:
        proxy.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--quick", action="store_true", help="one round, for the smoke test")
    args = parser.parse_args()
    rounds = 1 if args.quick else args.rounds
    results: dict[str, list[dict[str, float]]] = {
        "SIGTERM": [], "SIGKILL": [], "Redis restart": [], "PostgreSQL 3 s outage": []}
    with servers() as started, tempfile.TemporaryDirectory() as tmp:
        for n in range(rounds):
            log(f"round {n + 1} of {rounds}")
            results["SIGTERM"].append(process_fault(started, signal.SIGTERM))
            results["SIGKILL"].append(process_fault(started, signal.SIGKILL))
            results["Redis restart"].append(redis_restart(started, Path(tmp)))
            results["PostgreSQL 3 s outage"].append(postgres_outage(started, 3.0))
    rows = []
    summary: dict[str, Any] = {}
    for fault, runs in results.items():
        for measure in runs[0]:
            figures = summary_ms([run[measure] for run in runs])
            summary.setdefault(fault, {})[measure] = figures
            rows.append([fault, measure.removesuffix("_s").replace("_", " "),
                         figures["p50"], figures["max"]])
    print_table(f"recovery after faults, ms from the fault (PostgreSQL: from its return), "
                f"{rounds} rounds", ["fault", "until", "p50 ms", "max ms"], rows)
    if args.json:
        print_json("recovery", {"machine": machine(), "rounds": rounds, "faults": summary})


if __name__ == "__main__":
    main()
