"""A fork server for the test suite's daphne and Celery processes.

A `python -m daphne ...` costs about 0.65 s of CPU before it answers /healthz, and most of it
is importing the same third-party modules every time (Django, Twisted, Autobahn, psycopg,
Channels, Redis, Celery...). Each pytest worker starts one `ForkServer` ("zygote"): a process
that has imported those modules, and nothing of the project (whose settings are read from each
server's own environment). A server is a child forked from it that takes its environment,
working directory and log file, then runs the module as `python -m <module> <args>` would.

What the zygote must not have before a fork, and does not: threads, an event loop, Twisted's
reactor (daphne.server installs it when imported: only the child imports it), Django's settings,
a frozen heap (GC_FREEZE is the child's), open sockets other than its own (closed in the child).

`ForkedProcess` is what the tests use of `subprocess.Popen`: `pid`, `poll()`, `wait(timeout)`,
`send_signal()`, `terminate()`, `kill()`, `returncode`. Signals go through a pidfd (no pid reuse
race); the exit status comes from the zygote, which is the child's parent and reaps it.

Protocol: the pytest worker and the zygote share a control socket (a socketpair). For each server
the worker sends one JSON request (module, arguments, environment, working directory) with two
descriptors (SCM_RIGHTS): one end of a new socketpair, the server's channel, and its log file,
opened by the worker as Popen's caller opens it. The zygote forks and answers on the channel with
`pid <n>` and the child's pidfd, then, once it has reaped the child, `exit <code>` (the code as
`Popen.returncode` gives it: negative for a signal).
"""
from __future__ import annotations

import atexit
import importlib
import json
import os
import runpy
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

# What a daphne and a Celery worker of the project import, by the modules that pull in the most
# (measured with `python -X importtime`): nothing here may configure Django's settings, start a
# thread, make an event loop or install Twisted's reactor at import (checked after the imports).
PRELOAD = (
    "django.core.handlers.asgi", "django.core.handlers.base", "django.core.management",
    "django.core.signing", "django.core.cache.backends.redis", "django.db.models",
    "django.db.backends.postgresql.base", "django.db.migrations", "django.forms",
    "django.template.loader", "django.template.defaulttags", "django.template.loader_tags",
    "django.contrib.auth.hashers", "django.contrib.admin.sites", "django.test.signals",
    "django.utils.translation.trans_real", "django.middleware.csrf", "django.views.generic",
    "asgiref.sync", "channels.routing", "channels.generic.websocket", "channels.layers",
    "channels.db", "channels_redis.core", "redis", "redis.asyncio", "psycopg", "psycopg.pq",
    "twisted.internet.asyncioreactor", "twisted.internet.endpoints", "twisted.web.http",
    "twisted.logger", "twisted.protocols.policies", "autobahn.twisted.websocket",
    "daphne.ws_protocol", "daphne.http_protocol", "daphne.access", "daphne.endpoints",
    "cryptography.fernet", "cryptography.hazmat.primitives.ciphers.aead",
    "cryptography.hazmat.primitives.hashes", "celery", "celery.bin.celery", "celery.worker",
    "celery.apps.worker", "celery.beat", "kombu", "kombu.transport.redis",
    "prometheus_client", "dateutil.parser", "sqlparse", "dj_database_url", "whitenoise",
    "email.mime.text", "textwrap", "uuid", "decimal", "json", "hmac", "secrets",
)

# How long the zygote's imports may take (a loaded machine), and how long a child has to exit
# after SIGTERM when the zygote stops (a test's servers are stopped before, by the test).
START_TIMEOUT = float(os.environ.get("TEST_FORK_SERVER_START_TIMEOUT", "60"))
STOP_GRACE = float(os.environ.get("TEST_FORK_SERVER_STOP_GRACE", "5"))


# The interpreter reads these at start-up, so a server whose environment sets them differently
# from the zygote's is started the old way (`subprocess.Popen`).
def interpreter_env(env: dict[str, str]) -> dict[str, str]:
    return {key: value for key, value in env.items() if key.startswith("PYTHON")}


def preload() -> list[str]:
    """Import PRELOAD; returns what failed (kept out, never fatal: the child imports it)."""
    failed = []
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception as error:  # noqa: BLE001 - a module the child imports itself
            failed.append(f"{name}: {error!r}")
    return failed


def check_fork_safe() -> None:
    """What would break a forked child if the imports above had made it (see the module)."""
    from django.conf import settings

    problems = []
    if "twisted.internet.reactor" in sys.modules:
        problems.append("Twisted's reactor is installed")
    if threading.active_count() != 1:
        problems.append(f"threads: {threading.enumerate()}")
    if settings.configured:
        problems.append("Django's settings are configured")
    if problems:
        raise RuntimeError("the fork server cannot fork safely: " + "; ".join(problems))


class ForkedProcess:
    """A server forked by the zygote, with the part of `subprocess.Popen` the tests use."""

    def __init__(self, args: list[str], channel: socket.socket) -> None:
        self.args = args
        self.returncode: int | None = None
        self._channel = channel
        self._buffer = b""
        message, fds, _flags, _address = socket.recv_fds(channel, 64, 1)
        line, _, self._buffer = message.partition(b"\n")
        if not line.startswith(b"pid ") or not fds:
            channel.close()
            raise RuntimeError(f"the fork server did not start {args}: {message!r}")
        self.pid = int(line.split()[1])
        self._pidfd = fds[0]

    def _read_status(self, timeout: float | None) -> None:
        """Takes the zygote's `exit <code>` line when it comes within `timeout`."""
        if self.returncode is not None:
            return
        self._channel.settimeout(timeout)
        while b"\n" not in self._buffer:
            try:
                data = self._channel.recv(64)
            except (TimeoutError, BlockingIOError):
                return
            if not data:  # the zygote died: wait for the child itself, its status is lost
                self._wait_pidfd(timeout)
                break
            self._buffer += data
        else:
            self.returncode = int(self._buffer.split(b"\n")[0].split()[1])
        if self.returncode is not None:
            self._channel.close()
            os.close(self._pidfd)

    def _wait_pidfd(self, timeout: float | None) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self._pidfd, selectors.EVENT_READ)
            if selector.select(timeout):
                self.returncode = 1

    def poll(self) -> int | None:
        self._read_status(0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        self._read_status(timeout)
        if self.returncode is None:
            raise subprocess.TimeoutExpired(self.args, timeout)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is not None:
            return
        try:
            signal.pidfd_send_signal(self._pidfd, sig)
        except ProcessLookupError:  # exited, not yet reaped: as Popen, nothing to do
            pass

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class ForkServer:
    """The pytest worker's end: starts the zygote, asks it for servers, stops it."""

    def __init__(self, cwd: Path, log_path: Path) -> None:
        self.env = dict(os.environ)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.servers", str(theirs.fileno())],
                cwd=cwd, env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, pass_fds=(theirs.fileno(),))
        theirs.close()
        self.control = ours
        self.log_path = log_path
        ours.settimeout(START_TIMEOUT)
        try:
            ready = ours.recv(16)  # after the imports; a fork before it would wait anyway
        except TimeoutError:
            ready = b""
        ours.settimeout(None)
        if ready != b"ready\n":
            self.stop()
            raise RuntimeError(f"fork server failed:\n{log_path.read_text(errors='replace')}")

    def can_start(self, env: dict[str, str]) -> bool:
        return self.process.poll() is None and interpreter_env(env) == interpreter_env(self.env)

    def start(self, module: str, args: list[str], env: dict[str, str], cwd: Path,
              log_path: Path) -> ForkedProcess:
        """As `Popen([python, "-m", module, *args], env=env, cwd=cwd, stdout=log,
        stderr=STDOUT)`."""
        request = json.dumps({"module": module, "args": args, "env": env,
                              "cwd": str(cwd)}).encode()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        # Opened here, as Popen's caller opens it: the log exists once `start` returns.
        with theirs, log_path.open("wb") as log:
            socket.send_fds(self.control, [len(request).to_bytes(4, "big") + request],
                            [theirs.fileno(), log.fileno()])
        return ForkedProcess([sys.executable, "-m", module, *args], ours)

    def stop(self) -> None:
        """EOF on the control socket stops the zygote, and its children still running."""
        self.control.close()
        try:
            self.process.wait(timeout=STOP_GRACE + 5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# ---- the zygote's side


def run_child(request: dict[str, Any], log: int) -> int:
    """In the forked child: become `python -m <module> <args>` with the request's environment
    and log file, and exit as the interpreter would (thread joins and atexit included)."""
    code: Any = 0
    try:
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        sys.path[0] = request["cwd"]
        sys.argv = ["-m", *request["args"]]
        runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
    except SystemExit as exit_:
        code = exit_.code
    except BaseException:  # noqa: BLE001 - reported as the interpreter would, exit code 1
        traceback.print_exc()
        code = 1
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    try:
        threading._shutdown()  # type: ignore[attr-defined] - what Py_Finalize runs first
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001, S110 - a closed stream: nothing left to write
                pass
    return code


def receive(control: socket.socket) -> tuple[dict[str, Any], socket.socket, int] | None:
    """The next request: what to run, the channel for its pid and exit, its log file."""
    header, fds, _flags, _address = socket.recv_fds(control, 4, 2)
    if not header:
        return None
    size = int.from_bytes(header, "big")
    data = b""
    while len(data) < size:
        chunk = control.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return json.loads(data), socket.socket(fileno=fds[0]), fds[1]


def serve(control: socket.socket) -> None:
    """Fork a child per request; report each child's exit on its channel. One thread, no event
    loop: `poll(2)` on the control socket and the children's pidfds."""
    children: dict[int, tuple[int, socket.socket]] = {}  # pidfd -> (pid, channel)
    selector = selectors.PollSelector()  # no kernel object for a child to inherit
    selector.register(control, selectors.EVENT_READ)
    try:
        while True:
            for key, _events in selector.select():
                if key.fileobj is control:
                    received = receive(control)
                    if received is None:
                        return
                    request, channel, log = received
                    sys.stdout.flush()
                    sys.stderr.flush()
                    # SIGTERM held across the fork: a child signalled at once must die as a
                    # process of its own, not run the zygote's handler in the zygote's code.
                    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
                    pid = os.fork()
                    if pid == 0:
                        signal.signal(signal.SIGTERM, signal.SIG_DFL)
                        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
                        for fd in (control.fileno(), *(c.fileno() for _p, c in
                                                       children.values()), *children):
                            os.close(fd)
                        channel.close()
                        os._exit(run_child(request, log))
                    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
                    os.close(log)
                    pidfd = os.pidfd_open(pid)
                    socket.send_fds(channel, [f"pid {pid}\n".encode()], [pidfd])
                    children[pidfd] = (pid, channel)
                    selector.register(pidfd, selectors.EVENT_READ)
                else:
                    pidfd = key.fd
                    pid, channel = children.pop(pidfd)
                    selector.unregister(pidfd)
                    _pid, status = os.waitpid(pid, 0)
                    try:
                        channel.sendall(f"exit {os.waitstatus_to_exitcode(status)}\n".encode())
                    except OSError:
                        pass  # the worker no longer listens
                    channel.close()
                    os.close(pidfd)
    finally:
        stop_children(children)


def stop_children(children: dict[int, tuple[int, socket.socket]]) -> None:
    """SIGTERM (and SIGCONT, for a stopped one) to each child; SIGKILL after STOP_GRACE."""
    for pidfd in children:
        for sig in (signal.SIGTERM, signal.SIGCONT):
            try:
                signal.pidfd_send_signal(pidfd, sig)
            except ProcessLookupError:
                pass
    with selectors.PollSelector() as selector:
        for pidfd in children:
            selector.register(pidfd, selectors.EVENT_READ)
        deadline = time.monotonic() + STOP_GRACE
        waiting = set(children)
        while waiting and time.monotonic() < deadline:
            for key, _events in selector.select(deadline - time.monotonic()):
                waiting.discard(key.fd)
                selector.unregister(key.fd)
    for pidfd, (pid, _channel) in children.items():
        if pidfd in waiting:
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        os.waitpid(pid, 0)


def main() -> None:
    control = socket.socket(fileno=int(sys.argv[1]))
    # SIGTERM stops the zygote the way EOF does: its children first.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    failed = preload()
    for failure in failed:
        print(f"not preloaded: {failure}", flush=True)
    check_fork_safe()
    control.sendall(b"ready\n")
    serve(control)


if __name__ == "__main__":
    main()
