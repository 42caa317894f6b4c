"""Test set-up that must happen before Django reads its settings.

Tests use the real PostgreSQL on 127.0.0.1 when it answers (`TEST_DATABASE_URL`), and the
real Redis through the `redis_url` fixture. Under `CI=true` a missing service is an error,
never a skip; outside CI the suite falls back to SQLite and skips what needs the service.
"""
from __future__ import annotations

import fcntl
import importlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import dj_database_url
import pytest
from channels.layers import channel_layers
from django.conf import settings
from django.db import connections
from django.db.backends.postgresql.operations import DatabaseOperations as PostgresOperations
from django.db.backends.sqlite3.operations import DatabaseOperations as SQLiteOperations

from bench.common import migrations_digest
from chatsite.settings import redis_channel_layer
from tests.faults import free_port
from tests.servers import ForkedProcess, ForkServer

CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL",
                                   "postgres://postgres@127.0.0.1:5432/postgres")


def worker_redis_url(base: str, worker: str) -> str:
    """Under pytest-xdist each worker gets a Redis database of its own (worker n: the base
    database minus n, skipping 14, which the benchmarks use), as pytest-django gives each a
    database of its own; the channel-layer prefix follows the database (settings)."""
    if not worker.startswith("gw"):
        return base
    parsed = urlparse(base)
    database = int(parsed.path.lstrip("/") or "0")
    for _ in range(int(worker[2:])):
        database -= 2 if database - 1 == 14 else 1
    if database < 0:
        raise pytest.UsageError(f"no Redis database left for xdist worker {worker}")
    return parsed._replace(path=f"/{database}").geturl()


XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", ... or ""
TEST_REDIS_URL = worker_redis_url(
    os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"), XDIST_WORKER)

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent / "shared" / "tools"))


def reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port), timeout=1):
            return True
    except OSError:
        return False


POSTGRES_UP = reachable(TEST_DATABASE_URL)
REDIS_UP = reachable(TEST_REDIS_URL)

# pytest-django has read the settings before this file runs; the unit tests run on the
# embedded default (in-memory layer and matching), and tests that claim Redis ask for it
# through fixtures. The database is PostgreSQL whenever it is there.
if settings.REDIS_URL or os.environ.get("CELERY_BROKER_URL"):
    raise pytest.UsageError("unset REDIS_URL and CELERY_BROKER_URL to run the tests "
                            "(`make test` does); Redis tests use TEST_REDIS_URL")
settings.DATABASES["default"] = dj_database_url.parse(
    TEST_DATABASE_URL if POSTGRES_UP else "sqlite://:memory:")
connections.__dict__.pop("settings", None)  # read again, with Django's defaults filled in
connections._settings = None
try:
    del connections["default"]
except AttributeError:
    pass


def require(service_up: bool, name: str) -> None:
    if service_up:
        return
    if CI:
        pytest.fail(f"{name} is not running, and under CI=true nothing may skip", pytrace=False)
    pytest.skip(f"{name} is not running")


_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if CI and _skipped:
        print(f"\nCI=true: {len(_skipped)} test(s) skipped, which counts as failure:")
        for nodeid in _skipped:
            print("  " + nodeid)
        session.exitstatus = 1


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slowest files (benchmarks) first, then files that drive chromium, then files that
    start servers, each file kept whole and in order: under `--dist loadfile` the longest
    files then start at once, instead of one of them starting last while the other workers
    sit idle."""
    def path(item: pytest.Item) -> str:
        return item.nodeid.split("::")[0]

    rank: dict[str, tuple[int, int]] = {}
    for n, item in enumerate(items):
        weight = next((w for w, mark in enumerate(("slow", "browser", "e2e"))
                       if item.get_closest_marker(mark)), 3)
        old_weight, first = rank.get(path(item), (3, n))
        rank[path(item)] = (min(weight, old_weight), first)
    items.sort(key=lambda item: rank[path(item)])


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A worker's chromium serves its browser files, which run first and one after the other
    (above); it is stopped before the worker's first test without a browser, whose event loop
    Playwright's sync API would otherwise hold (tests/browser.py)."""
    browser = sys.modules.get("browser")  # tests/browser.py, once a browser file imported it
    if browser is not None and item.get_closest_marker("browser") is None:
        browser.stop_chromiums(item.config)


# ---- fixtures ----


@pytest.fixture(autouse=True)
def _fresh_live_state() -> Iterator[None]:
    """Each test starts with an empty in-process queue, store, rate limits and channel layer."""
    from chat.matching import reset_matcher
    from chat.store import reset_store
    from chatsite.plumbing.ratelimit import reset_limits

    reset_matcher()
    reset_store()
    reset_limits()
    channel_layers.backends.clear()
    yield
    reset_matcher()
    reset_store()
    reset_limits()
    channel_layers.backends.clear()


@pytest.fixture
def postgres() -> None:
    require(POSTGRES_UP, "PostgreSQL")


def ensure_template(connection, template: str, clone: str) -> None:  # noqa: ANN001
    """Migrate `template` once, unless a database of that name exists: it is only ever made
    by renaming a finished build, so its existence means a complete migration. Others of the
    same test database (older migrations) are dropped. Called under the file lock."""
    creation = connection.creation
    with creation._nodb_cursor() as cursor:
        cursor.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                       [template[:-12].replace("_", r"\_") + "%"])
        existing = {name for (name,) in cursor.fetchall()}
    if template in existing:
        return
    building = f"{template}_new"
    original = connection.settings_dict["NAME"]
    connection.settings_dict["TEST"]["NAME"] = building
    try:
        creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    finally:
        connection.close()
        connection.settings_dict["TEST"]["NAME"] = clone
        settings.DATABASES[connection.alias]["NAME"] = original
        connection.settings_dict["NAME"] = original
    quote = connection.ops.quote_name
    with creation._nodb_cursor() as cursor:
        cursor.execute(f"ALTER DATABASE {quote(building)} RENAME TO {quote(template)}")
        for stale in existing - {template, building}:
            cursor.execute(f"DROP DATABASE IF EXISTS {quote(stale)}")


@pytest.fixture(scope="session")
def django_db_setup(request: pytest.FixtureRequest, django_test_environment: None,
                    django_db_blocker, django_db_modify_db_settings: None  # noqa: ANN001
                    ) -> Iterator[None]:
    """Each xdist worker's PostgreSQL test database is a copy (`CREATE DATABASE ... TEMPLATE`,
    0.2 s) of one migrated template, instead of running every migration itself (about 7 s of
    CPU per worker). The template is named after `bench.common.migrations_digest()` (the
    migration files and the installed packages' versions), and the first worker
    to need it builds it under a file lock while the others wait; the copy holds everything
    the migrations made (the audit-log triggers too). The copies skip the wait for the
    write-ahead log at commit (`synchronous_commit = off`, 1.6 ms -> 0.07 ms a commit) for
    every session, the daphne and Celery processes' too: a test never checks durability
    across a crash of the server. On SQLite, pytest-django's own set-up."""
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    verbosity = request.config.option.verbose
    if connection.vendor != "postgresql":
        with django_db_blocker.unblock():
            config = setup_databases(verbosity=verbosity, interactive=False,
                                     aliases={"default"})
        yield
        with django_db_blocker.unblock():
            teardown_databases(config, verbosity=verbosity)
        return
    original = connection.settings_dict["NAME"]
    clone = connection.creation._get_test_db_name()  # with pytest-django's _gwN suffix
    template = f"test_{original}_tpl_{migrations_digest()[:12]}"
    quote = connection.ops.quote_name
    db = connection.settings_dict
    lock_path = Path(tempfile.gettempdir()) / (
        f"pytest-{db['HOST']}-{db['PORT']}-{original}-template.lock")
    with django_db_blocker.unblock(), lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        ensure_template(connection, template, clone)
        with connection.creation._nodb_cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {quote(clone)}")
            cursor.execute(f"CREATE DATABASE {quote(clone)} TEMPLATE {quote(template)}")
            cursor.execute(f"ALTER DATABASE {quote(clone)} SET synchronous_commit = off")
    settings.DATABASES[connection.alias]["NAME"] = clone
    db["NAME"] = clone
    yield
    with django_db_blocker.unblock():
        connection.close()
        settings.DATABASES[connection.alias]["NAME"] = original
        db["NAME"] = original
        # FORCE: the connections of the in-process socket's pooled database threads (kept for
        # DATABASE_CONN_MAX_AGE) and of servers still stopping would otherwise refuse the drop.
        try:
            with connection.creation._nodb_cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS {quote(clone)} WITH (FORCE)")
        except Exception as error:  # noqa: BLE001 - as pytest-django: a warning, not an error
            request.node.warn(pytest.PytestWarning(f"test database not dropped: {error!r}"))


APPEND_ONLY = importlib.import_module("moderation.migrations.0007_decision_append_only")


@pytest.fixture(scope="session", autouse=True)
def _sqlite_flush_past_the_audit_trigger() -> Iterator[None]:
    """On the SQLite fallback, a transactional test's flush deletes every row (`DELETE FROM`),
    which the decisions' append-only trigger refuses (PostgreSQL's TRUNCATE fires no row
    trigger). The test flush alone drops the triggers and recreates them in the same
    transaction; a deployment on SQLite keeps refusing every raw UPDATE and DELETE."""
    original = SQLiteOperations.sql_flush

    def sql_flush(self: SQLiteOperations, style: object, tables: list[str],
                  **options: bool) -> list[str]:
        statements = original(self, style, tables, **options)
        if APPEND_ONLY.TABLE not in tables:
            return statements
        return [*APPEND_ONLY.SQLITE_REVERSE, *statements, *APPEND_ONLY.SQLITE]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SQLiteOperations, "sql_flush", sql_flush)
        yield


@pytest.fixture(scope="session", autouse=True)
def _postgres_flush_by_delete() -> Iterator[None]:
    """After a transactional test, PostgreSQL's copy is emptied with a DELETE per table, the
    triggers (the foreign keys' and the decisions' append-only one) off for that transaction,
    instead of Django's one TRUNCATE of every table: TRUNCATE gives each table and index new
    files and takes an exclusive lock on each, 0.2-0.8 s a test here against 0.03 s, for the
    few rows a test leaves. Sequences are not reset either way (`reset_sequences` keeps
    Django's own statement)."""
    original = PostgresOperations.sql_flush

    def sql_flush(self: PostgresOperations, style: object, tables: list[str], *,
                  reset_sequences: bool = False, allow_cascade: bool = False) -> list[str]:
        if reset_sequences or not tables:
            return original(self, style, tables, reset_sequences=reset_sequences,
                            allow_cascade=allow_cascade)
        deletes = " ".join(f"DELETE FROM {self.quote_name(table)};" for table in tables)
        # SET LOCAL: the replica role (no triggers) ends with the flush's own transaction.
        return [f"SET LOCAL session_replication_role = replica; {deletes}"]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(PostgresOperations, "sql_flush", sql_flush)
        yield


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The real Redis (a database of its own), emptied before and after the test."""
    require(REDIS_UP, "Redis")
    import redis

    client = redis.Redis.from_url(TEST_REDIS_URL)
    client.flushdb()
    yield TEST_REDIS_URL
    client.flushdb()
    client.close()


@pytest.fixture
def redis_live(redis_url: str, settings) -> str:  # noqa: ANN001 - pytest-django's settings
    """Switch this process to the Redis backends: channel layer, matching, store."""
    from chat.matching import reset_matcher
    from chat.store import reset_store

    settings.REDIS_URL = redis_url
    settings.CHANNEL_LAYERS = {"default": redis_channel_layer(redis_url)}
    reset_matcher()
    reset_store()
    channel_layers.backends.clear()
    return redis_url


# The tests' daphne and Celery processes are forked from a per-worker fork server that has
# imported their third-party modules (tests/servers.py): a daphne's CPU to its first /healthz
# 0.58 -> 0.25 s. TEST_FORK_SERVER=false starts each with `python -m` instead.
FORK_SERVER = os.environ.get("TEST_FORK_SERVER", "true").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def _fork_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForkServer | None]:
    """The worker's fork server, started by its first test that starts a server."""
    if not FORK_SERVER:
        yield None
        return
    server = ForkServer(ROOT, tmp_path_factory.mktemp("fork-server") / "fork-server.log")
    yield server
    server.stop()


def spawn(fork_server: ForkServer | None, module: str, args: list[str], env: dict[str, str],
          log_path: Path) -> subprocess.Popen | ForkedProcess:
    """`python -m <module> <args>` in ROOT, its output in `log_path`: forked by the fork
    server, unless there is none or the environment sets the interpreter differently."""
    if fork_server is not None and fork_server.can_start(env):
        return fork_server.start(module, args, env, ROOT, log_path)
    with log_path.open("wb") as log:
        return subprocess.Popen([sys.executable, "-m", module, *args], cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT)


# How long the servers' and workers' threads keep a PostgreSQL connection (DATABASE_CONN_MAX_AGE
# in their environment). They were closed after every use (0) since the first commit, for no
# reason written down: each socket event then opened one (5,993 sessions in a suite run, ~4-5 ms
# of PostgreSQL CPU each). Kept, as deployed, they are safe: a connection idle in autocommit
# holds no lock that a transactional test's flush would wait for, the worker's database is
# dropped WITH (FORCE), and CONN_HEALTH_CHECKS replaces one that a test cut (test_outages).
# (An HTTP request still opens its own: Django runs its sync code on a thread of its own.)
SERVER_CONN_MAX_AGE = os.environ.get("TEST_SERVER_CONN_MAX_AGE", "60")

# After a test nothing is asserted about how its servers stop: a daphne still closing its
# sockets after this long is killed (its application close timeout would hold it 10 s).
TEARDOWN_GRACE = 2.0


@dataclass
class Server:
    url: str
    process: subprocess.Popen | ForkedProcess
    log_path: Path

    def stop(self, sig: int = signal.SIGTERM, grace: float = 10) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def test_database_url() -> str:
    from django.db import connection

    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def launch_server(log_dir: Path, redis_url: str | None, extra_env: dict[str, str],
                  started: list[Server], fork_server: ForkServer | None = None) -> Server:
    """One daphne process on the test database, healthy; appended to `started` at once so
    that it is stopped even when it never becomes healthy."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update({
        "DATABASE_URL": test_database_url(),
        "SECRET_KEY": settings.SECRET_KEY,
        "GUEST_RATE_LIMIT": "10000/m",
        "DATABASE_CONN_MAX_AGE": SERVER_CONN_MAX_AGE,
        **extra_env,
    })
    if redis_url:
        env["REDIS_URL"] = redis_url
    log_path = log_dir / f"daphne-{port}.log"
    process = spawn(fork_server, "daphne",
                    ["-b", "127.0.0.1", "-p", str(port), "chatsite.asgi:application"],
                    env, log_path)
    server = Server(f"http://127.0.0.1:{port}", process, log_path)
    started.append(server)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"daphne exited:\n{server.log()}")
        try:
            with urllib.request.urlopen(server.url + "/healthz", timeout=2):
                return server
        except urllib.error.HTTPError as error:
            state = error.read().decode(errors="replace")
        except OSError as error:
            state = str(error)
        time.sleep(0.1)
    raise RuntimeError(f"daphne not healthy in 30 s ({state}):\n{server.log()}")


@pytest.fixture(scope="session")
def _shared_servers(_fork_server: ForkServer | None) -> Iterator[dict[tuple, list[Server]]]:
    """Servers kept for the worker's session (see `start_server`), stopped at its end."""
    shared: dict[tuple, list[Server]] = {}
    yield shared
    stop_servers([server for group in shared.values() for server in group])


@pytest.fixture
def start_server(transactional_db: None, postgres: None, tmp_path: Path,
                 request: pytest.FixtureRequest, _fork_server: ForkServer | None
                 ) -> Iterator[Callable[..., Server]]:
    """Start real daphne processes on the test database; they are stopped after the test.

    In a module marked `shared_server`, a server on the embedded default (no Redis) is kept
    for the worker's later tests (of such modules) that ask for the same settings: its live
    state is in memory and each test's people are new guests, so a test cannot tell, and a
    daphne start-up is saved per test. Servers on Redis are always fresh (the test empties
    Redis under them)."""
    servers: list[Server] = []
    shared = (request.getfixturevalue("_shared_servers")
              if request.node.get_closest_marker("shared_server") else None)
    used: dict[tuple, int] = {}

    def start(redis_url: str | None = None, **extra_env: str) -> Server:
        if shared is None or redis_url:
            return launch_server(tmp_path, redis_url, extra_env, servers, _fork_server)
        key = tuple(sorted(extra_env.items()))
        group = shared.setdefault(key, [])
        n = used[key] = used.get(key, -1) + 1  # a test's second such server is another one
        if n < len(group) and group[n].process.poll() is None:
            return group[n]
        fresh: list[Server] = []
        try:
            server = launch_server(tmp_path, None, extra_env, fresh, _fork_server)
        except BaseException:
            servers.extend(fresh)  # never healthy: stopped with the test
            raise
        group[n:n + 1] = [server]
        return server

    yield start
    stop_servers(servers)


def stop_servers(servers: list[Server]) -> None:
    """SIGTERM to all at once; those still running after TEARDOWN_GRACE are killed."""
    running = [server.process for server in servers if server.process.poll() is None]
    for process in running:
        process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + TEARDOWN_GRACE
    for process in running:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def start_worker(transactional_db: None, postgres: None, tmp_path: Path,
                 _fork_server: ForkServer | None
                 ) -> Iterator[Callable[..., subprocess.Popen | ForkedProcess]]:
    """Start a real Celery worker (with beat) on the test database; stopped after the test."""
    workers: list[subprocess.Popen | ForkedProcess] = []

    def start(redis_url: str, **extra_env: str) -> subprocess.Popen | ForkedProcess:
        env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
        env.update({"DATABASE_URL": test_database_url(), "REDIS_URL": redis_url,
                    "SECRET_KEY": settings.SECRET_KEY, "DATABASE_CONN_MAX_AGE": SERVER_CONN_MAX_AGE,
                    "ANALYSIS_DRAIN_SECONDS": "0.5", **extra_env})
        n = len(workers)
        worker = spawn(_fork_server, "celery",
                       ["-A", "chatsite", "worker", "--beat", "--pool=solo",
                        "--schedule-filename", str(tmp_path / f"beat-{n}"), "--loglevel=INFO",
                        f"--hostname=test{XDIST_WORKER}{n}@%h"],
                       env, tmp_path / f"worker-{n}.log")
        worker.log_path = tmp_path / f"worker-{n}.log"
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        stop_process(worker)


def stop_process(process: subprocess.Popen | ForkedProcess, timeout: float = 20) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# ---- helpers for end-to-end tests over chatclient


def pair_guests(url_a: str, url_b: str, mode: str = "text") -> tuple:
    """Two new guests, on the servers at url_a and url_b, paired with each other.

    Returns ((socket_a, session_a), (socket_b, session_b), conversation id)."""
    from chatclient import Socket, guest_session

    session_a, session_b = guest_session(url_a), guest_session(url_b)
    a, b = Socket(url_a, session_a), Socket(url_b, session_b)
    a.expect("welcome")
    b.expect("welcome")
    a.send({"type": "find", "mode": mode})
    b.send({"type": "find", "mode": mode})
    conversation = a.expect("matched", 20)["conversation"]
    assert b.expect("matched", 20)["conversation"] == conversation
    return (a, session_a), (b, session_b), conversation


def exchange(sender, receiver, text: str) -> dict:  # noqa: ANN001 - chatclient sockets
    """`sender` says `text`; the partner receives it. Returns the sender's acknowledgement."""
    sender.send({"type": "message", "text": text})
    ack = sender.expect("message")
    assert receiver.expect("message")["text"] == text
    return ack


ABUSIVE_LINES = ("you are a fucking idiot", "shut up you stupid bitch",
                 "go kill yourself you piece of shit", "fuck off asshole")


def abusive_conversation(url: str) -> str:
    """Two new guests paired on the server at `url`, one of whom says ABUSIVE_LINES to the
    other (each relayed); the conversation's id."""
    (rude, _), (kind, _), conversation = pair_guests(url, url)
    for text in ABUSIVE_LINES:
        rude.send({"type": "message", "text": text})
        rude.expect("message")
        kind.expect("message")
    return conversation


def resume_on(url: str, session: str, conversation: str, after: str | None) -> tuple:
    """A new socket for `session` that resumes `conversation`; returns (socket, resumed)."""
    from chatclient import Socket

    socket_ = Socket(url, session)
    socket_.expect("welcome", 15)
    socket_.send({"type": "resume", "conversation": conversation, "after": after})
    return socket_, socket_.expect("resumed")
