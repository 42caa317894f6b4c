"""What every benchmark shares: the servers it starts and stops, guests, figures and tables.

The benchmarks start their own servers on 127.0.0.1 (daphne processes of this project, or the
bare relay) against a database and a Redis database of their own:

- `BENCH_DATABASE_URL` (default postgres://postgres@127.0.0.1:5432/chat_bench), created when
  missing, migrated unless already migrated to the current migration files (`ensure_database`);
- `BENCH_REDIS_URL` (default redis://127.0.0.1:6379/14), emptied before each run;
- `BENCH_PORT_BASE` (default: ports the OS picks) for the first port the servers listen on.

Servers are stopped when the command ends, also on Ctrl-C, SIGTERM or an error.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
sys.path.insert(0, str(ROOT.parent / "shared" / "tools"))

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/chat_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
# The relay's own limits are far above what a benchmark offers, so that they never refuse.
UNLIMITED_ENV = {
    "GUEST_RATE_LIMIT": "100000/m",
    "MESSAGE_RATE_LIMIT": "100000/10s",
    "FRAME_RATE_LIMIT": "100000/10s",
    "MAX_SOCKETS_PER_ADDRESS": "100000",
    "METRICS_TOKEN": "bench",
}


def database_url() -> str:
    return os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)


def redis_url() -> str:
    return os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL)


# ---- figures


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) by nearest rank; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summary_ms(values: Sequence[float]) -> dict[str, float | None]:
    """p50/p95/p99/max of durations given in seconds, in milliseconds."""
    out: dict[str, float | None] = {}
    for name, q in (("p50", 50), ("p95", 95), ("p99", 99), ("max", 100)):
        value = percentile(values, q)
        out[name] = None if value is None else round(value * 1000, 2)
    return out


def ratio(value: float | None, base: float | None) -> float | None:
    if value is None or not base:
        return None
    return round(value / base, 2)


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def print_table(title: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    cells = [list(header)] + [[fmt(value) for value in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}")
    for n, row in enumerate(cells):
        print("  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
                        for i, cell in enumerate(row)))
        if n == 0:
            print("  ".join("-" * width for width in widths))
    sys.stdout.flush()


def print_json(benchmark: str, result: dict[str, Any]) -> None:
    print(json.dumps({"benchmark": benchmark, **result}, separators=(",", ":")))
    sys.stdout.flush()


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu": model, "python": sys.version.split()[0],
            "code": code_version()}


def code_version() -> str:
    """The commit measured, with `+changes` when chat/ or chatsite/ differ from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, timeout=10).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain", "chat", "chatsite"],
                                 cwd=ROOT, capture_output=True, text=True,
                                 timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (head or "unknown") + ("+changes" if changed else "")


def log(message: str) -> None:
    print(f"# {message}", file=sys.stderr, flush=True)


# ---- services


def migrations_digest() -> str:
    """A hash of what a database's schema follows: every migration file of the project (name
    and contents) and the installed packages' versions (their apps' migrations come with them).
    The benchmarks' stamp, and the name of the tests' migrated template (conftest.py)."""
    digest = hashlib.sha256()
    for top in sorted(ROOT.iterdir()):
        if top.is_dir() and not top.name.startswith("."):
            for path in sorted(top.rglob("migrations/*.py")):
                digest.update(f"{path.relative_to(ROOT)}\0".encode())
                digest.update(path.read_bytes())
    for dist in sorted(f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions()):
        digest.update(f"{dist}\0".encode())
    return digest.hexdigest()


def migrations_stamp() -> str:
    """What a finished migrate leaves as the benchmark database's comment."""
    return f"migrated {migrations_digest()[:16]}"


def ensure_database(url: str) -> None:
    """Create the benchmark database when it is missing, and migrate it, unless it is already
    migrated to the current files: `manage.py migrate` is a whole Django start-up (0.75 s of
    CPU even when there is nothing to do), and the suite runs a benchmark command six times.
    A finished migrate leaves `migrations_stamp()` as the database's comment."""
    import psycopg
    from psycopg import sql

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = urlunparse(parsed._replace(path="/postgres"))
    stamp = migrations_stamp()
    with psycopg.connect(admin, autocommit=True) as conn:
        row = conn.execute("select shobj_description(oid, 'pg_database') from pg_database"
                           " where datname = %s", (name,)).fetchone()
        if row is None:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        elif row[0] == stamp:
            return
    result = subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=server_env({}),
        capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"migrate failed:\n{result.stdout}{result.stderr}")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("comment on database {} is {}").format(
            sql.Identifier(name), sql.Literal(stamp)))


def flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


def server_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("REDIS_URL", "DATABASE_URL", "CELERY_BROKER_URL")}
    env.update({"DATABASE_URL": database_url(), "REDIS_URL": redis_url(),
                "LOG_LEVEL": "WARNING", **UNLIMITED_ENV, **extra})
    return env


class PortPicker:
    """Ports from `BENCH_PORT_BASE` upwards, else whatever the OS hands out."""

    def __init__(self) -> None:
        base = os.environ.get("BENCH_PORT_BASE")
        self.next = int(base) if base else 0

    def take(self) -> int:
        while True:
            with socket.socket() as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    probe.bind(("127.0.0.1", self.next))
                except OSError:
                    if not self.next:
                        raise
                    self.next += 1
                    continue
                port = probe.getsockname()[1]
            if self.next:
                self.next = port + 1
            return port


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/chat/"

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.process.pid)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class Servers:
    """The servers of one benchmark run; `stop_all` ends every one of them."""

    ports: PortPicker = field(default_factory=PortPicker)
    running: list[Server] = field(default_factory=list)
    log_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="chatbench-")))

    def _spawn(self, name: str, argv: list[str], env: dict[str, str],
               root: Path = ROOT) -> Server:
        port = self.ports.take()
        log_path = self.log_dir / f"{name}-{port}.log"
        process = subprocess.Popen(
            [part.replace("{port}", str(port)) for part in argv], cwd=root, env=env,
            stdout=log_path.open("wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        server = Server(name, port, process, log_path)
        self.running.append(server)
        return server

    def _wait_ready(self, server: Server, path: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        state = "not answering"
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(f"{server.name} exited:\n{server.log_tail()}")
            try:
                with urllib.request.urlopen(server.url + path, timeout=2):
                    return
            except urllib.error.HTTPError as error:
                state = f"HTTP {error.code}"
            except OSError as error:
                state = str(error)
            time.sleep(0.2)
        raise RuntimeError(f"{server.name} not ready in {timeout:.0f} s ({state}):\n"
                           f"{server.log_tail()}")

    def daphne(self, extra_env: dict[str, str] | None = None, root: Path = ROOT) -> Server:
        """One daphne process of this project (or of the copy of it at `root`, e.g. an older
        commit to compare with in the same run), on the benchmark database and Redis."""
        server = self._spawn(
            "daphne", [PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", "{port}",
                       "chatsite.asgi:application"], server_env(extra_env or {}), root)
        self._wait_ready(server, "/healthz")
        return server

    def bare(self) -> Server:
        """The bare relay: the same frames, no framework."""
        server = self._spawn("bare", [PYTHON, str(ROOT / "bench" / "bare_relay.py"),
                                      "--port", "{port}"], dict(os.environ))
        self._wait_ready(server, "/healthz", timeout=20)
        return server

    def floor(self) -> Server:
        """The daphne floor: the bare relay as a raw ASGI app on daphne (bench/asgi_relay.py)."""
        server = self._spawn("floor", [PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p",
                                       "{port}", "bench.asgi_relay:app"], dict(os.environ))
        self._wait_ready(server, "/healthz", timeout=20)
        return server

    def stop_all(self) -> None:
        while self.running:
            self.running.pop().stop()


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@contextmanager
def servers(with_database: bool = True) -> Iterator[Servers]:
    """Servers for one run, always stopped at the end; SIGTERM stops them as Ctrl-C does."""
    signal.signal(signal.SIGTERM, _raise_interrupt)
    if with_database:
        ensure_database(database_url())
        flush_redis(redis_url())
    started = Servers()
    try:
        yield started
    except BaseException:
        log(f"server logs kept in {started.log_dir}")
        raise
    else:
        shutil.rmtree(started.log_dir, ignore_errors=True)
    finally:
        started.stop_all()
        if with_database:
            flush_redis(redis_url())


GUEST_ATTEMPTS = 5


def guest_sessions(server: Server, count: int, workers: int = 8) -> list[str]:
    """`count` real guest accounts made through POST /accounts/guest/; their session ids."""
    from chatclient import guest_session

    def one(_: int) -> str:
        # A shared database may refuse for a moment (503); that is not what is measured.
        for attempt in range(GUEST_ATTEMPTS):
            try:
                return guest_session(server.url)
            except urllib.error.HTTPError as error:
                if error.code != 503 or attempt == GUEST_ATTEMPTS - 1:
                    raise
                time.sleep(1)
        raise AssertionError("unreachable")

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, range(count)))


def spread_sessions(servers_: Sequence[Server], count: int) -> list[tuple[Server, str]]:
    """`count` guests, the i-th made on and later connected to server i mod len(servers_)."""
    per_server = [guest_sessions(server, len(range(i, count, len(servers_))))
                  for i, server in enumerate(servers_)]
    return [(servers_[i % len(servers_)], per_server[i % len(servers_)][i // len(servers_)])
            for i in range(count)]


def redis_cpu_probe(url: str) -> dict[str, Any]:
    """A CPU-seconds probe of the Redis server, when it runs on this machine."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        pid = int(client.info("server")["process_id"])
    finally:
        client.close()
    if not Path(f"/proc/{pid}/stat").exists():
        return {}
    return {"redis": lambda: process_cpu_seconds(pid)}


def process_cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of process `pid` so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def gc_pauses(server: Server) -> dict[str, float]:
    """The project process's garbage-collector pauses so far, from its /metrics: count, total
    seconds and the upper bound of the longest, per generation and all together, in wall time
    and in the process's CPU time (wall far above CPU: the process waited for a core), and the
    objects start-up froze."""
    from prometheus_client.parser import text_string_to_metric_families

    request = urllib.request.Request(server.url + "/metrics",
                                     headers={"Authorization": "Bearer bench"})
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    out = {"count": 0.0, "seconds": 0.0, "longest_le": 0.0, "cpu_seconds": 0.0,
           "longest_cpu_le": 0.0, "frozen": 0.0}
    for family in text_string_to_metric_families(text):
        if family.name == "chat_gc_frozen_objects":
            out["frozen"] = sum(sample.value for sample in family.samples)
            continue
        prefix = {"chat_gc_pause_seconds": "", "chat_gc_pause_cpu_seconds": "cpu_"}.get(
            family.name)
        if prefix is None:
            continue
        previous: dict[str, float] = {}
        longest = f"longest_{prefix}le"
        for sample in family.samples:
            generation = sample.labels.get("generation", "")
            if sample.name.endswith("_count") and not prefix:
                out["count"] += sample.value
                out[f"count_gen{generation}"] = sample.value
            elif sample.name.endswith("_sum"):
                out[f"{prefix}seconds"] += sample.value
            elif sample.name.endswith("_bucket"):
                bound = float(sample.labels["le"])
                if sample.value > previous.get(generation, 0):
                    out[longest] = max(out[longest], bound)
                # pauses of at most `bound`, all generations: two readings give a step's longest
                out[f"{prefix}le:{bound}"] = out.get(f"{prefix}le:{bound}", 0) + sample.value
                previous[generation] = sample.value
    return out


def longest_between(before: dict[str, float], after: dict[str, float], prefix: str = ""
                    ) -> float:
    """Upper bound (s) of the longest pause between two readings: the smallest bucket bound
    whose count grew by all the pauses between them."""
    bounds = sorted(float(key.split(":", 1)[1]) for key in after
                    if key.startswith(f"{prefix}le:"))
    grown = [after[f"{prefix}le:{b}"] - before.get(f"{prefix}le:{b}", 0) for b in bounds]
    if not grown or not grown[-1]:
        return 0.0
    return next(b for b, n in zip(bounds, grown, strict=True) if n == grown[-1])


def gc_pauses_between(before: dict[str, float], after: dict[str, float], seconds: float
                      ) -> dict[str, float]:
    """Collections and pause time per second of a step, the longest pause in the step (wall
    and CPU) and since start-up (wall)."""
    return {"collections_per_s": round((after["count"] - before["count"]) / seconds, 2),
            "gen2_collections": after.get("count_gen2", 0) - before.get("count_gen2", 0),
            "pause_ms_per_s": round(1000 * (after["seconds"] - before["seconds"]) / seconds, 3),
            "pause_cpu_ms_per_s": round(
                1000 * (after.get("cpu_seconds", 0) - before.get("cpu_seconds", 0)) / seconds, 3),
            "longest_pause_ms_le": round(1000 * after["longest_le"], 2),
            "step_longest_pause_ms_le": round(1000 * longest_between(before, after), 2),
            "step_longest_pause_cpu_ms_le": round(1000 * longest_between(before, after, "cpu_"),
                                                  2),
            "frozen_objects": after.get("frozen", 0)}
