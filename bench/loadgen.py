"""The load generator every relay benchmark uses: many real sockets in one asyncio loop.

Each user is a real WebSocket to /ws/chat/ (of daphne or of the bare relay). All of them send
`find`, are paired by the server, and then each side of each pair sends lines at a fixed rate
(open loop: a line is due at its scheduled time whatever the server does, so a slow server
shows up as latency instead of as a slower client). A line's text carries its step, its
sender, its number and its scheduled send time, so the receiving side can measure the latency
and notice a line lost, seen twice or out of order without asking anyone.

Latencies are measured from the scheduled send time (no coordinated omission); the client's
own lag (actual minus scheduled send time) is reported next to them so that an overloaded
load generator is not mistaken for a slow server.

The load generator shares the machine's cores with the servers it measures, so its own CPU
per line is part of every figure. The sockets are opened, greeted and paired here in Python;
the steps themselves (sending, reading and book-keeping of every line) run in a small C
program, bench/native/loadgen.c, compiled with the machine's C compiler on first use into a
temporary directory, which inherits the paired sockets and reports each step's raw figures
back: a fifth to a sixth of the Python steps' CPU per line (0.008-0.011 ms against
0.04-0.06 at the closed-loop peaks). It takes a line's arrival from the kernel's receive
timestamp of the socket, so its latencies no longer include how late the load generator
itself read the frame (reported apart, `client_read_delay_ms`; the Python steps' latencies
include it). `BENCH_LOADGEN=python` runs the steps in Python instead (also the fallback when
there is no C compiler): the same figures, the same JSON.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import shutil
import subprocess
import tempfile
import time
from array import array
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench.common import Server, log, process_cpu_seconds, summary_ms

CONNECT_CONCURRENCY = 50
NATIVE_SOURCE = Path(__file__).resolve().parent / "native" / "loadgen.c"
# Beyond the step's window and drain, how long the native worker may take to report.
NATIVE_REPORT_GRACE = 30.0


def batch_us() -> int:
    """How long the C worker sleeps between its rounds of reading during a step (µs): frames
    carry the kernel's arrival time, so reading them in batches costs no accuracy, and it
    saves the worker a context switch per frame (on two shared cores, a third of its CPU per
    line); a line due to be sent is never held back. 0 reads every frame at once."""
    return int(os.environ.get("BENCH_LOADGEN_BATCH_US", "300"))


def engine() -> str:
    """Where the steps run: "native" (the C program), "python", or "auto" (the default: the C
    program, Python when the machine has no C compiler or it fails on the source)."""
    return os.environ.get("BENCH_LOADGEN", "auto")


@dataclass
class StepStats:
    step: int
    rate_per_pair: float
    pairs: int
    started: float = 0.0
    window_end: float = 0.0
    sent: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    client_lag: list[float] = field(default_factory=list)
    partner_latency: list[float] = field(default_factory=list)
    ack_latency: list[float] = field(default_factory=list)
    delivered_in_window: int = 0
    # sender index -> line numbers its partner has received / it has had acknowledged
    received: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    acked: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    last_received: dict[int, int] = field(default_factory=dict)
    duplicated: int = 0
    reordered: int = 0
    ack_duplicated: int = 0

    def complete(self) -> bool:
        return all(len(self.received[idx]) >= n and len(self.acked[idx]) >= n
                   for idx, n in self.sent.items())

    def on_partner_line(self, sender: int, number: int, latency: float, now: float) -> None:
        seen = self.received[sender]
        if number in seen:
            self.duplicated += 1
            return
        seen.add(number)
        if number < self.last_received.get(sender, -1):
            self.reordered += 1
        self.last_received[sender] = max(number, self.last_received.get(sender, -1))
        self.partner_latency.append(latency)
        if now <= self.window_end:
            self.delivered_in_window += 1

    def on_ack(self, sender: int, number: int, latency: float) -> None:
        if number in self.acked[sender]:
            self.ack_duplicated += 1
            return
        self.acked[sender].add(number)
        self.ack_latency.append(latency)


def line_text(step: int, sender: int, number: int, due: float, filler: str) -> str:
    # Numbers stay short and apart (":" is no digit separator to the contact filter), so the
    # server's inline filter passes the line unchanged: no run of digits looks like a phone.
    seconds, micros = divmod(round(due * 1e6), 1_000_000)
    return f"{step}:{sender}:{number}:{seconds}:{micros:06d}:{filler}"


class User:
    """One real socket of the load generator."""

    def __init__(self, idx: int, ws: ClientConnection, run: LoadRun) -> None:
        self.idx = idx
        self.ws = ws
        self.run = run
        self.welcomed = asyncio.Event()
        self.matched = asyncio.Event()
        self.searching = asyncio.Event()
        self.find_sent = 0.0
        self.match_time: float | None = None
        self.conversation: str | None = None
        self.closed = False
        self.left = False  # a partner_left arrived: this user's conversation is over
        self.ack_waiter: asyncio.Future[None] | None = None
        self.reader = asyncio.create_task(self.read())

    async def read(self) -> None:
        try:
            async for raw in self.ws:
                self.on_frame(json.loads(raw), time.monotonic())
        except ConnectionClosed:
            pass
        finally:
            self.closed = True
            self.run.closed += 1

    def on_frame(self, frame: dict[str, Any], now: float) -> None:
        kind = frame.get("type")
        if kind == "message":
            try:
                step_s, sender_s, number_s, seconds, micros, _ = frame["text"].split(":", 5)
                step = self.run.steps[int(step_s)]
                latency = now - (int(seconds) + int(micros) / 1e6)
            except (ValueError, IndexError):
                self.run.unexpected["unreadable_line"] += 1
                return
            if frame.get("from") == "me":
                step.on_ack(int(sender_s), int(number_s), latency)
                if self.ack_waiter is not None and not self.ack_waiter.done():
                    self.ack_waiter.set_result(None)
            else:
                step.on_partner_line(int(sender_s), int(number_s), latency, now)
        elif kind == "welcome":
            self.welcomed.set()
        elif kind == "matched":
            if self.matched.is_set():
                self.run.unexpected["matched_twice"] += 1
            self.match_time = now - self.find_sent
            self.conversation = frame["conversation"]
            self.matched.set()
        elif kind == "searching":
            self.searching.set()
        elif kind == "partner_left":
            self.left = True
            self.run.unexpected[kind] += 1
        elif kind in ("pong", "typing"):
            pass
        else:
            self.run.unexpected[str(kind if kind != "error" else frame.get("code"))] += 1

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(frame))

    async def send_lines(self, step: StepStats, rate: float, filler: str) -> None:
        """This side's lines of one step, each at its scheduled time."""
        interval = 1 / rate
        due = step.started + random.uniform(0, interval)
        number = 0
        try:
            while due < step.window_end:
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                step.client_lag.append(max(0.0, time.monotonic() - due))
                await self.ws.send(json.dumps({
                    "type": "message", "client_id": f"{step.step}:{number}",
                    "text": line_text(step.step, self.idx, number, due, filler)}))
                step.sent[self.idx] += 1
                number += 1
                due += interval
        except ConnectionClosed:
            pass


    async def send_closed_loop(self, step: StepStats, filler: str,
                               ack_timeout: float = 10) -> None:
        """This side's lines of one closed-loop step: the next one as soon as the previous
        one is acknowledged, for as long as the step lasts."""
        loop = asyncio.get_running_loop()
        await asyncio.sleep(max(0.0, step.started - time.monotonic()))
        number = 0
        try:
            while (due := time.monotonic()) < step.window_end:
                self.ack_waiter = loop.create_future()
                await self.ws.send(json.dumps({
                    "type": "message", "client_id": f"{step.step}:{number}",
                    "text": line_text(step.step, self.idx, number, due, filler)}))
                step.sent[self.idx] += 1
                number += 1
                await asyncio.wait_for(self.ack_waiter, ack_timeout)
        except (ConnectionClosed, TimeoutError):
            pass
        finally:
            self.ack_waiter = None


@dataclass
class LoadRun:
    users: list[User] = field(default_factory=list)
    steps: list[StepStats] = field(default_factory=list)
    closed: int = 0
    unexpected: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    native: NativeWorker | None = None  # the C worker running the steps, when it does


async def open_users(targets: Sequence[tuple[Server, str | None]], run: LoadRun,
                     timeout: float = 30) -> list[User]:
    """One socket per (server, session id), each past its `welcome`."""
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def open_one(idx: int, server: Server, session: str | None) -> User:
        headers = [("Cookie", f"sessionid={session}")] if session else []
        async with gate:
            ws = await connect(server.ws_url, origin=server.url, additional_headers=headers,
                               compression=None, max_queue=None, ping_interval=None,
                               open_timeout=timeout, close_timeout=2)
            user = User(idx, ws, run)
            try:
                await asyncio.wait_for(user.welcomed.wait(), timeout)
            except TimeoutError:
                raise RuntimeError(f"socket {idx} to {server.url}: no welcome in {timeout:g} s"
                                   f" (close code {ws.close_code}, frames "
                                   f"{dict(run.unexpected)})") from None
            return user

    users = await asyncio.gather(*(open_one(i, server, session)
                                   for i, (server, session) in enumerate(targets)))
    run.users.extend(users)
    return list(users)


async def pair_users(users: Sequence[User], find_rate: float, timeout: float = 30
                     ) -> tuple[list[float], list[User]]:
    """Every user sends `find` (paced at `find_rate` per second); find -> matched times, and
    the users in intact pairs. A server that hands one waiting user to two seekers ends one
    of the two conversations at once: those users are left out of the load and counted."""
    for user in users:
        user.find_sent = time.monotonic()
        await user.send({"type": "find", "mode": "text"})
        await asyncio.sleep(1 / find_rate)
    await asyncio.wait_for(asyncio.gather(*(u.matched.wait() for u in users)), timeout)
    conversations: dict[str, list[User]] = defaultdict(list)
    for user in users:
        conversations[user.conversation].append(user)
    await asyncio.sleep(1)  # a conversation ended at once says so within this
    paired = [u for members in conversations.values() if len(members) == 2
              and not any(m.left for m in members) for u in members]
    if len(paired) < 0.75 * len(users):
        sizes = sorted({len(members) for members in conversations.values()})
        raise RuntimeError(f"{len(users) - len(paired)} of {len(users)} users not in an intact "
                           f"pair (sizes {sizes}; frames {dict(users[0].run.unexpected)})")
    return [user.match_time for user in users], paired


def compile_native() -> Path | None:
    """The C worker, compiled once per version of its source into the temporary directory;
    None when there is no C compiler (the steps then run in Python)."""
    compiler = os.environ.get("CC", "gcc")
    if shutil.which(compiler) is None:
        return None
    source = NATIVE_SOURCE.read_bytes()
    binary = (Path(tempfile.gettempdir())
              / f"chat-bench-loadgen-{hashlib.sha256(source).hexdigest()[:16]}")
    if binary.exists():
        return binary
    # Compiled beside its final name, then renamed: two runs at once never run half a file.
    partial = binary.with_name(f"{binary.name}.{os.getpid()}")
    result = subprocess.run([compiler, "-O2", "-o", str(partial), str(NATIVE_SOURCE), "-lm"],
                            capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"{compiler} failed on {NATIVE_SOURCE}:\n{result.stderr}")
    os.replace(partial, binary)
    return binary


def native_binary(required: bool) -> Path | None:
    """The compiled worker; None (after saying so) when it cannot be had and is not
    `required`: the steps then run in Python, at several times the CPU per line."""
    try:
        binary = compile_native()
        if binary is None:
            raise RuntimeError("no C compiler (CC, else gcc)")
    except (RuntimeError, OSError, subprocess.SubprocessError) as error:
        if required:
            raise
        log(f"the load generator's steps run in Python: {error}")
        return None
    return binary


@dataclass
class NativeStep:
    """One step as the C worker counted it (its `result` line and latency arrays)."""

    counts: dict[str, int]
    unexpected: dict[str, int]
    partner_latency: array
    ack_latency: array
    client_lag: array
    read_delay: array


class NativeWorker:
    """bench/native/loadgen.c driving the paired users' sockets, step by step. While it runs,
    those sockets' transports do not read (the worker reads every frame, pings included);
    `stop` hands them back."""

    def __init__(self, process: asyncio.subprocess.Process, users: Sequence[User]) -> None:
        self.process = process
        self.users = list(users)
        self.closed = 0
        self.unexpected: dict[str, int] = {}

    @classmethod
    async def start(cls, binary: Path, users: Sequence[User]) -> NativeWorker:
        fds = [user.ws.transport.get_extra_info("socket").fileno() for user in users]
        for user in users:
            user.ws.transport.pause_reading()
        process = await asyncio.create_subprocess_exec(
            str(binary), str(batch_us()), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            pass_fds=fds)
        worker = cls(process, users)
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(("fds " + " ".join(map(str, fds)) + "\n").encode())
        await process.stdin.drain()
        if await asyncio.wait_for(process.stdout.readline(), 30) != b"ready\n":
            await worker.stop()
            raise RuntimeError("the native load generator did not start")
        return worker

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.process.pid)

    async def begin(self, number: int, rate_per_side: float, started: float, window_end: float,
                    drain: float, closed_loop: bool, line_length: int) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(
            f"step {number} {rate_per_side!r} {started!r} {window_end!r} {drain!r} "
            f"{int(closed_loop)} {line_length} {random.getrandbits(63)}\n".encode())
        await self.process.stdin.drain()

    async def result(self, timeout: float) -> NativeStep:
        assert self.process.stdout is not None
        line = (await asyncio.wait_for(self.process.stdout.readline(), timeout)).decode()
        if not line.startswith("result "):
            raise RuntimeError(f"the native load generator said {line!r}")
        counts: dict[str, int] = {}
        unexpected: dict[str, int] = {}
        for item in line.split()[1:]:
            key, _, value = item.partition("=")
            if key == "unexpected":
                for pair in filter(None, value.split(",")):
                    name, _, count = pair.rpartition(":")
                    unexpected[name] = int(count)
            else:
                counts[key] = int(value)
        arrays = []
        for key in ("partner", "ack", "lag", "read_delay"):
            values = array("d")
            # native doubles from a process of this machine, as array("d") reads them
            values.frombytes(await self.process.stdout.readexactly(8 * counts[key]))
            arrays.append(values)
        return NativeStep(counts, unexpected, *arrays)

    async def stop(self) -> None:
        if self.process.returncode is None:
            try:
                assert self.process.stdin is not None
                self.process.stdin.write(b"quit\n")
                await self.process.stdin.drain()
                await asyncio.wait_for(self.process.wait(), 5)
            except (OSError, TimeoutError):
                self.process.kill()
                await self.process.wait()
        for user in self.users:
            if not user.ws.transport.is_closing():
                user.ws.transport.resume_reading()


def step_result(run: LoadRun, step: StepStats, closed_loop: bool, duration: float,
                sent: int, received: int, acked: int, duplicated: int,
                cpu_before: dict[str, float], cpu_after: dict[str, float],
                cpu_probes: dict[str, Callable[[], float]], own_cpu: float,
                read_delay: Sequence[float] = ()) -> dict[str, Any]:
    """The figures of a step, whichever engine ran it."""
    return {
        "step": step.step,
        "pairs": step.pairs,
        "rate_per_pair": step.rate_per_pair,
        # Closed loop offers what it manages to send.
        "offered_lines_per_s": round(sent / duration if closed_loop
                                     else step.pairs * step.rate_per_pair, 1),
        "closed_loop": closed_loop,
        "sent": sent,
        "delivered_lines_per_s": round(step.delivered_in_window / duration, 1),
        "partner_latency_ms": summary_ms(step.partner_latency),
        "ack_latency_ms": summary_ms(step.ack_latency),
        "client_lag_ms": summary_ms(step.client_lag),
        # How long after their arrival the load generator read the frames (native engine: its
        # latencies count from the arrival, so this is not in them; Python's include it).
        "client_read_delay_ms": summary_ms(read_delay),
        "lost": sent - received,
        "ack_lost": sent - acked,
        "duplicated": duplicated,
        "reordered": step.reordered,
        "cpu_percent": {name: round(100 * (cpu_after[name] - cpu_before[name]) / duration, 1)
                        for name in cpu_probes} | {"loadgen": round(100 * own_cpu / duration,
                                                                   1)},
        # CPU time per delivered line does not depend on how busy the machine is, unlike the
        # latencies: it compares builds measured at different moments of a shared machine.
        "cpu_ms_per_line": {
            name: round(1000 * (cpu_after[name] - cpu_before[name])
                        / max(1, step.delivered_in_window), 3) for name in cpu_probes},
        # The load generator's own (both engines: its Python process and the C worker), apart
        # from the servers': what the yardstick itself takes from the shared cores.
        "loadgen_cpu_ms_per_line": round(1000 * own_cpu / max(1, step.delivered_in_window), 4),
        "loadgen_engine": "python" if run.native is None else "native",
        # Other work on the machine shows here; figures taken under load are not comparable.
        "load_average_1m": round(os.getloadavg()[0], 2),
        "closed_sockets": run.closed,
        "unexpected_frames": dict(run.unexpected),
    }


async def run_step(run: LoadRun, users: Sequence[User], number: int, rate_per_pair: float,
                   duration: float, drain: float, line_length: int,
                   cpu_probes: dict[str, Callable[[], float]], closed_loop: bool = False
                   ) -> dict[str, Any]:
    """All pairs send `rate_per_pair` lines a second (half from each side) for `duration`;
    with `closed_loop`, each side sends its next line as soon as the last is acknowledged."""
    if run.native is not None:
        return await run_native_step(run, run.native, users, number, rate_per_pair, duration,
                                     drain, line_length, cpu_probes, closed_loop)
    step = StepStats(number, rate_per_pair, len(users) // 2)
    run.steps.append(step)
    filler = "x" * max(1, line_length)
    cpu_before = {name: probe() for name, probe in cpu_probes.items()}
    own_cpu = time.process_time()
    step.started = time.monotonic() + 0.2
    step.window_end = step.started + duration
    senders = [asyncio.create_task(u.send_closed_loop(step, filler) if closed_loop
                                   else u.send_lines(step, rate_per_pair / 2, filler))
               for u in users]
    await asyncio.gather(*senders)
    await asyncio.sleep(max(0.0, step.window_end - time.monotonic()))
    cpu_after = {name: probe() for name, probe in cpu_probes.items()}
    own_cpu = time.process_time() - own_cpu
    drain_deadline = time.monotonic() + drain
    while not step.complete() and time.monotonic() < drain_deadline:
        if all(u.closed for u in users):
            break
        await asyncio.sleep(0.05)
    return step_result(
        run, step, closed_loop, duration, sent=sum(step.sent.values()),
        received=sum(len(s) for s in step.received.values()),
        acked=sum(len(s) for s in step.acked.values()),
        duplicated=step.duplicated + step.ack_duplicated, cpu_before=cpu_before,
        cpu_after=cpu_after, cpu_probes=cpu_probes, own_cpu=own_cpu)


async def run_native_step(run: LoadRun, worker: NativeWorker, users: Sequence[User],
                          number: int, rate_per_pair: float, duration: float, drain: float,
                          line_length: int, cpu_probes: dict[str, Callable[[], float]],
                          closed_loop: bool) -> dict[str, Any]:
    """`run_step` by the C worker: this process only starts the step, reads the CPU probes at
    the end of its window and turns the worker's raw figures into the same result."""
    step = StepStats(number, rate_per_pair, len(users) // 2)
    run.steps.append(step)
    cpu_before = {name: probe() for name, probe in cpu_probes.items()}
    own_cpu = time.process_time() + worker.cpu_seconds()
    step.started = time.monotonic() + 0.2
    step.window_end = step.started + duration
    await worker.begin(number, rate_per_pair / 2, step.started, step.window_end, drain,
                       closed_loop, max(1, line_length))
    await asyncio.sleep(max(0.0, step.window_end - time.monotonic()))
    cpu_after = {name: probe() for name, probe in cpu_probes.items()}
    own_cpu = time.process_time() + worker.cpu_seconds() - own_cpu
    raw = await worker.result(max(0.0, step.window_end - time.monotonic()) + drain
                              + NATIVE_REPORT_GRACE)
    counts = raw.counts
    step.partner_latency, step.ack_latency, step.client_lag = (
        list(raw.partner_latency), list(raw.ack_latency), list(raw.client_lag))
    step.delivered_in_window = counts["delivered_in_window"]
    step.reordered = counts["reordered"]
    # The worker's counts run from its start; the run's from its own.
    run.closed += counts["closed"] - worker.closed
    worker.closed = counts["closed"]
    for name, count in raw.unexpected.items():
        run.unexpected[name] += count - worker.unexpected.get(name, 0)
    worker.unexpected = raw.unexpected
    return step_result(
        run, step, closed_loop, duration, sent=counts["sent"], received=counts["received"],
        acked=counts["acked"], duplicated=counts["duplicated"] + counts["ack_duplicated"],
        cpu_before=cpu_before, cpu_after=cpu_after, cpu_probes=cpu_probes, own_cpu=own_cpu,
        read_delay=raw.read_delay)


def step_failed(result: dict[str, Any], baseline_p99_ms: float | None,
                p99_limit_ms: float) -> bool:
    """Past saturation: lines lost, deliveries falling behind, or the p99 blown up."""
    p99 = result["partner_latency_ms"]["p99"]
    blown = p99 is None or p99 > p99_limit_ms or (
        baseline_p99_ms is not None and p99 > max(p99_limit_ms / 5, 20 * baseline_p99_ms))
    return (blown or result["lost"] > 0 or result["closed_sockets"] > 0
            or result["delivered_lines_per_s"] < 0.9 * result["offered_lines_per_s"])


async def run_load(targets: Sequence[tuple[Server, str | None]], rates: Sequence[float],
                   duration: float, drain: float = 10, find_rate: float = 200,
                   line_length: int = 40, stop_when_saturated: bool = False,
                   p99_limit_ms: float = 500,
                   cpu_probes: dict[str, Callable[[], float]] | None = None,
                   on_step: Callable[[dict[str, Any]], None] | None = None,
                   before_step: Callable[[int], None] | None = None,
                   closed_loop: bool = False,
                   ) -> dict[str, Any]:
    """Open the sockets, pair them, run one step per rate (one closed-loop step with
    `closed_loop`); close everything at the end."""
    run = LoadRun()
    try:
        users = await open_users(targets, run)
        match_times, users = await pair_users(users, find_rate)
        unpaired = len(run.users) - len(users)
        if engine() != "python":
            binary = native_binary(required=engine() == "native")
            if binary is not None:
                run.native = await NativeWorker.start(binary, users)
        steps: list[dict[str, Any]] = []
        baseline: float | None = None
        for number, rate in enumerate(rates):
            if before_step:
                before_step(number)
            result = await run_step(run, users, number, rate, duration, drain, line_length,
                                    cpu_probes or {}, closed_loop=closed_loop)
            result["saturated"] = step_failed(result, baseline, p99_limit_ms)
            steps.append(result)
            if on_step:
                on_step(result)
            if baseline is None:
                baseline = result["partner_latency_ms"]["p99"]
            if stop_when_saturated and result["saturated"]:
                break
        return {"users": len(users), "unpaired": unpaired, "match_ms": summary_ms(match_times),
                "steps": steps}
    finally:
        if run.native is not None:
            await run.native.stop()
        await asyncio.gather(*(u.ws.close() for u in run.users), return_exceptions=True)
        for user in run.users:
            user.reader.cancel()
