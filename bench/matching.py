"""Matching benchmark: find -> matched with a partner waiting, a burst of simultaneous finds,
and the cost of one `find` as the queue of waiting users grows.

1. **Queue cost** (straight against Redis, the server's own `RedisMatcher` script): the queue
   is filled to 0, 1,000 and 10,000 waiting users (interests of their own, ten languages, half
   of them English, a block list of 20 each; they wait for their interests, so nobody pairs),
   and at each size one `find` that finds nobody is timed, 200 times, with interests and
   without. Client-side round trip, p50/p99.
2. **Burst**: `--burst` users (default 400) send `find` at the same moment (through one daphne
   process, and through the bare relay); find -> matched p50/p99.
3. **One by one**: with the queue empty (`--pairs` pairs) and at its largest (at most 50
   pairs), one real guest sends `find` (with an interest and a language) and waits; then a
   second sends the same `find`. The second's find -> matched, and the waiting side's,
   p50/p95/p99/max; a pair not met within 10 s counts as unmatched (after 3, the step stops).

`--before DIR` also starts a daphne process from DIR (a copy of an older commit, e.g.
`git archive <commit> | tar -x -C DIR`, beside this checkout's parent so that it finds
`shared/`) on the same database and Redis, and measures steps 2 and 3 on both, alternately
(`--rounds N` times; each round's figures and their median), so that a before/after
comparison comes from one run on a shared machine. `--profile DIR` records py-spy (see
bench/requirements.txt) on this tree's daphne process during each burst, as collapsed stacks
in `DIR/burst<round>.txt`.

    python bench/matching.py [--pairs 200] [--burst 400] [--queue 10000] [--json]
    python bench/matching.py --before /tmp/before --rounds 3 --profile /tmp/prof
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# The matcher reads its scan window from the project's settings, as the server does.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")

from bench.common import (  # noqa: E402
    GUEST_ATTEMPTS,
    PYTHON,
    Server,
    guest_sessions,
    log,
    machine,
    print_json,
    print_table,
    ratio,
    redis_url,
    servers,
    summary_ms,
)
from bench.loadgen import LoadRun, open_users  # noqa: E402
from chat.matching import RedisMatcher, Seeker  # noqa: E402

FIND = {"type": "find", "mode": "text", "interests": ["benchmarks"], "lang": "en"}
TIMEOUT = 30.0
PAIR_TIMEOUT = 10.0  # a pair that has not met by then counts as not matched
GIVE_UP_AFTER = 3
# The filled queue must stay put: its users wait for their own interests for an hour.
SERVER_ENV = {"MATCH_INTEREST_WAIT_SECONDS": "3600", "LAST_PARTNER_SECONDS": "0"}
LANGS = ("en", "es", "de", "fr", "pt", "it", "ja", "ko", "zh", "ru")
BLOCKS = 20
PROBES = 200
FILLER_IDS = 10_000_000  # user ids of the made-up waiting users, far from real ones


def bench_matcher(**options: Any) -> RedisMatcher:
    """A matcher on the server's own keys; leases long enough for the whole run."""
    return RedisMatcher(redis_url(), prefix="match", interest_wait_s=3600, lease_s=3600,
                        **options)


async def fill_queue(matcher: RedisMatcher, start: int, count: int, rng: random.Random) -> None:
    async def one(n: int) -> None:
        uid = FILLER_IDS + n
        seeker = Seeker(user_id=uid, channel=f"bench-filler-{uid}", mode="text",
                        lang="en" if n % 2 else rng.choice(LANGS),
                        interests=[f"filler {n} {k}" for k in range(3)],
                        excluded=sorted(FILLER_IDS + rng.randrange(max(n, 1))
                                        for _ in range(BLOCKS)),
                        handle=f"Filler{n}")
        if await matcher.find_partner(seeker) is not None:
            raise RuntimeError("a made-up waiting user was paired")

    for first in range(start, start + count, 100):
        await asyncio.gather(*(one(n) for n in range(first, min(first + 100, start + count))))


async def probe(matcher: RedisMatcher, size: int, interests: bool, probes: int) -> list[float]:
    times = []
    for n in range(probes):
        uid = FILLER_IDS // 2 + n
        seeker = Seeker(user_id=uid, channel=f"bench-probe-{uid}", mode="text", lang="en",
                        interests=[f"probe {size} {n}"] if interests else [],
                        excluded=list(range(1, BLOCKS + 1)), handle=f"Probe{n}")
        started = time.perf_counter()
        result = await matcher.find_partner(seeker)
        times.append(time.perf_counter() - started)
        if result is not None:
            raise RuntimeError("a probe was paired")
        await matcher.cancel(uid)
    return times


async def queue_cost(sizes: list[int], probes: int) -> dict[str, Any]:
    matcher = bench_matcher()
    rng = random.Random(16)
    out: dict[str, Any] = {}
    filled = 0
    for size in sizes:
        started = time.monotonic()
        await fill_queue(matcher, filled, size - filled, rng)
        log(f"queue filled to {size} in {time.monotonic() - started:.1f} s")
        filled = size
        out[str(size)] = {
            "with_interests_ms": summary_ms(await probe(matcher, size, True, probes)),
            "without_interests_ms": summary_ms(await probe(matcher, size, False, probes))}
    return out


def make_guests(server: Server, count: int) -> list[str]:
    """Guests in batches, a batch tried again when a shared database refused it for a moment."""
    sessions: list[str] = []
    while len(sessions) < count:
        for attempt in range(GUEST_ATTEMPTS):
            try:
                sessions += guest_sessions(server, min(50, count - len(sessions)), workers=4)
                break
            except urllib.error.HTTPError as error:
                if error.code != 503 or attempt == GUEST_ATTEMPTS - 1:
                    raise
                time.sleep(2)
    return sessions


async def burst(server: Server, sessions: list[str | None],
                profile: Path | None = None) -> dict[str, Any]:
    run = LoadRun()
    spy = None
    try:
        users = await open_users([(server, s) for s in sessions], run)
        await asyncio.sleep(0.5)  # what a socket does after its `welcome` is not measured
        spy = start_profile(server, profile)
        cpu_before = server.cpu_seconds()
        now = time.monotonic()
        for user in users:
            user.find_sent = now
        await asyncio.gather(*(user.send(FIND) for user in users))
        try:
            await asyncio.wait_for(asyncio.gather(*(u.matched.wait() for u in users)), TIMEOUT)
        except TimeoutError:
            log(f"burst: not everyone matched within {TIMEOUT:g} s")
        times = [u.match_time for u in users if u.match_time is not None]
        # The server's CPU from the first find to the last `matched` (the bare relay's too).
        cpu_ms = (server.cpu_seconds() - cpu_before) * 1000
    finally:
        stop_profile(spy)
        await asyncio.gather(*(u.ws.close() for u in run.users), return_exceptions=True)
    return {"users": len(users), "unmatched": len(users) - len(times),
            "unexpected_frames": dict(run.unexpected), "find_to_matched_ms": summary_ms(times),
            "server_cpu_ms_per_find": round(cpu_ms / max(len(users), 1), 3)}


def start_profile(server: Server, path: Path | None) -> subprocess.Popen | None:
    """py-spy on the server process until `stop_profile`, collapsed stacks to `path`."""
    if path is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    spy = subprocess.Popen([str(Path(PYTHON).parent / "py-spy"), "record", "-p",
                            str(server.process.pid), "--rate", "200", "--format", "raw",
                            "--nonblocking", "--threads", "-o", str(path)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)  # py-spy attached
    return spy


def stop_profile(spy: subprocess.Popen | None) -> None:
    if spy is not None:
        spy.send_signal(signal.SIGINT)  # py-spy writes what it has on an interrupt
        try:
            spy.wait(timeout=20)
        except subprocess.TimeoutExpired:
            spy.kill()


async def pair_one_by_one(server: Server, sessions: list[str | None]) -> dict[str, Any]:
    run = LoadRun()
    seeker_times: list[float] = []
    waiting_times: list[float] = []
    unmatched = 0
    try:
        users = await open_users([(server, s) for s in sessions], run)
        for waiting, seeker in zip(users[::2], users[1::2], strict=True):
            await waiting.send(FIND)
            await asyncio.wait_for(waiting.searching.wait(), TIMEOUT)
            await asyncio.sleep(0.01)  # the waiting side's queue entry is surely written
            started = time.monotonic()
            seeker.find_sent = started
            await seeker.send(FIND)
            try:
                await asyncio.wait_for(seeker.matched.wait(), PAIR_TIMEOUT)
            except TimeoutError:
                unmatched += 1
                await asyncio.gather(waiting.ws.close(), seeker.ws.close())
                if unmatched == GIVE_UP_AFTER:
                    log(f"{unmatched} pairs did not meet within {PAIR_TIMEOUT:g} s; giving up")
                    break
                continue
            seeker_times.append(time.monotonic() - started)
            await asyncio.wait_for(waiting.matched.wait(), TIMEOUT)
            waiting_times.append(max(0.0, time.monotonic() - started)
                                 if waiting.match_time is None else
                                 waiting.find_sent + waiting.match_time - started)
            if waiting.conversation != seeker.conversation:
                raise RuntimeError("the two were paired with someone else")
    finally:
        await asyncio.gather(*(u.ws.close() for u in run.users), return_exceptions=True)
    return {"pairs": len(seeker_times), "unmatched": unmatched,
            "seeker_ms": summary_ms(seeker_times), "waiting_ms": summary_ms(waiting_times)}


def median_round(rounds: list[dict[str, Any]], *path: str) -> dict[str, float | None]:
    """Each figure of `path` (e.g. "burst", "find_to_matched_ms") as its median over rounds."""
    figures = []
    for result in rounds:
        for key in path:
            result = result[key]
        figures.append(result)
    return {q: (None if any(f[q] is None for f in figures)
                else round(statistics.median(f[q] for f in figures), 2))
            for q in figures[0]}


def settle(*servers_: Server, timeout: float = 60) -> None:
    """The sockets of the last step are closed and given back: the servers are idle again
    (under a fifth of a core for half a second), so that a step's tail does not fall into the
    next one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = sum(server.cpu_seconds() for server in servers_)
        time.sleep(0.5)
        if sum(server.cpu_seconds() for server in servers_) - before < 0.1:
            return
    log(f"servers still busy after {timeout:g} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--burst", type=int, default=400, help="users finding at once (even)")
    parser.add_argument("--queue", type=int, default=10_000, help="largest queue measured")
    parser.add_argument("--before", type=Path, default=None,
                        help="a copy of an older commit, measured alternately in the same run")
    parser.add_argument("--rounds", type=int, default=1,
                        help="bursts and one-by-one steps per server (medians reported)")
    parser.add_argument("--profile", type=Path, default=None,
                        help="directory for py-spy profiles of this tree's daphne in bursts")
    parser.add_argument("--quick", action="store_true", help="a tiny run, for the smoke test")
    parser.add_argument("--json", action="store_true", help="also print one JSON line")
    args = parser.parse_args()
    if args.quick:
        args.pairs, args.burst, args.queue = min(args.pairs, 5), min(args.burst, 10), 100
    sizes = sorted({0, min(1000, args.queue), args.queue})
    full_pairs = min(args.pairs, 50)
    with servers() as started:
        bare_server = started.bare()
        bare = asyncio.run(pair_one_by_one(bare_server, [None] * (2 * args.pairs)))
        bare_burst = asyncio.run(burst(bare_server, [None] * args.burst))
        bare_server.stop()
        # Both trees must accept the same session cookies (a checkout keeps its own key).
        env = {**SERVER_ENV, "SECRET_KEY": secrets.token_urlsafe(50)}
        trees = {"this": started.daphne(env)}
        if args.before:
            trees["before"] = started.daphne(env, root=args.before.resolve())
        needed = max(args.burst, 2 * args.pairs)
        log(f"creating {needed} guest users")
        # The same guests in every step: each step's sockets are closed before the next.
        sessions: list[str | None] = list(make_guests(trees["this"], needed))
        rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
        for number in range(args.rounds):
            for name in (list(trees) if number % 2 == 0 else list(reversed(trees))):
                server = trees[name]
                profile = (args.profile / f"burst{number}.txt"
                           if args.profile and name == "this" else None)
                settle(*trees.values())
                result = {"burst": asyncio.run(burst(server, sessions[:args.burst], profile))}
                log(f"{name}, burst: {result['burst']}")
                settle(*trees.values())
                result["one_by_one"] = asyncio.run(
                    pair_one_by_one(server, sessions[:2 * args.pairs]))
                log(f"{name}, one by one, queue empty: {result['one_by_one']}")
                rounds[name].append(result)
        costs = asyncio.run(queue_cost(sizes, PROBES if not args.quick else 20))
        log(f"queue cost: {costs}")
        full: dict[str, dict[str, Any]] = {}
        for name, server in trees.items():
            settle(*trees.values())
            full[name] = asyncio.run(pair_one_by_one(server, sessions[:2 * full_pairs]))
            log(f"{name}, one by one, queue {args.queue}: {full[name]}")
    rows = []
    for size, cost in costs.items():
        for key, label in (("with_interests_ms", "with interests"),
                           ("without_interests_ms", "without interests")):
            rows.append([f"queue {size}: a find {label}", cost[key]["p50"], cost[key]["p99"]])
    print_table(f"one find that finds nobody, {PROBES} times, as the queue grows "
                "(Redis round trip, ms)", ["", "p50", "p99"], rows)
    names = list(trees)
    medians = {name: {"burst": median_round(rounds[name], "burst", "find_to_matched_ms"),
                      "seeker_ms": median_round(rounds[name], "one_by_one", "seeker_ms"),
                      "waiting_ms": median_round(rounds[name], "one_by_one", "waiting_ms")}
               for name in names}
    rows = [[f"{args.burst} finds at once: find -> matched {q} ms",
             *(medians[name]["burst"][q] for name in names),
             bare_burst["find_to_matched_ms"][q],
             ratio(medians["this"]["burst"][q], bare_burst["find_to_matched_ms"][q])]
            for q in ("p50", "p99", "max")]
    cpu = {name: statistics.median(r["burst"]["server_cpu_ms_per_find"] for r in rounds[name])
           for name in names}
    rows.append([f"{args.burst} finds at once: server CPU ms per find", *cpu.values(),
                 bare_burst["server_cpu_ms_per_find"],
                 ratio(cpu["this"], bare_burst["server_cpu_ms_per_find"])])
    for key, label in (("seeker_ms", "find -> matched (seeker)"),
                       ("waiting_ms", "find -> matched (waiting side)")):
        for q in ("p50", "p95", "p99", "max"):
            rows.append([f"{label} {q} ms", *(medians[name][key][q] for name in names),
                         bare[key][q], ratio(medians["this"][key][q], bare[key][q])])
    for name in names:
        unmatched = [r["burst"]["unmatched"] for r in rounds[name]]
        frames = [r["burst"]["unexpected_frames"] for r in rounds[name]]
        log(f"{name}: burst not matched in {TIMEOUT:g} s per round {unmatched} (bare relay: "
            f"{bare_burst['unmatched']}); frames not expected {frames}")
    for key, label in (("seeker_ms", f"queue {args.queue}: find -> matched (seeker)"),
                       ("waiting_ms", f"queue {args.queue}: find -> matched (waiting side)")):
        for q in ("p50", "p99"):
            rows.append([f"{label} {q} ms", *(full[name][key][q] for name in names),
                         None, None])
    rows.append([f"queue {args.queue}: pairs not met within {PAIR_TIMEOUT:g} s",
                 *(full[name]["unmatched"] for name in names), None, None])
    print_table(f"matching with a compatible partner waiting: {args.burst} finds at once; "
                f"{args.pairs} pairs one by one, then {full_pairs} with {args.queue} others "
                f"in the queue; medians of {args.rounds} round(s) (ratio = this tree / bare "
                "relay)", ["", *names, "bare", "ratio"], rows)
    if args.json:
        print_json("matching", {"machine": machine(), "queue_cost": costs,
                                "rounds": rounds, "medians": medians,
                                "bare_burst": bare_burst, "bare": bare, "full_queue": full})


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
