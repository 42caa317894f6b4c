"""The fork server (tests/servers.py) starts a process as `python -m` would, and what the tests
use of `subprocess.Popen` behaves the same on what it forks: pid, poll, wait, signals."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import ForkServer

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def fork_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForkServer]:
    server = ForkServer(ROOT, tmp_path_factory.mktemp("fork") / "fork-server.log")
    yield server
    server.stop()


def probe(fork_server: ForkServer, tmp_path: Path, argument: str,
          **env: str) -> tuple[subprocess.Popen | object, Path]:
    log = tmp_path / f"probe-{argument}.log"
    process = fork_server.start("tests.fork_probe", [argument],
                                {**os.environ, "PROBE": "set", **env}, tmp_path, log)
    return process, log


def ppid(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines()
                    if line.startswith("PPid:")))


def test_child_runs_the_module_with_its_environment_cwd_and_log(
        fork_server: ForkServer, tmp_path: Path) -> None:
    process, log = probe(fork_server, tmp_path, "3")
    assert process.wait(timeout=20) == 3
    assert process.returncode == 3 and process.poll() == 3
    assert log.read_text().splitlines() == [
        f"argv=['3'] cwd={tmp_path} probe=set main=__main__ path0={tmp_path}",
        "unflushed at exit", "atexit ran"]


def test_signals_reach_the_child_and_its_status_reads_as_popen_s(
        fork_server: ForkServer, tmp_path: Path) -> None:
    process, log = probe(fork_server, tmp_path, "wait")
    assert log.exists()  # as with Popen, whose caller opens it: a test may read it at once
    deadline = time.monotonic() + 20
    while "argv=" not in log.read_text():
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    assert ppid(process.pid) == fork_server.process.pid  # a real process: /proc, RSS, kill
    assert process.poll() is None
    with pytest.raises(subprocess.TimeoutExpired):
        process.wait(timeout=0.2)
    process.send_signal(signal.SIGSTOP)  # a stopped child is not an exited one
    assert process.poll() is None
    process.send_signal(signal.SIGTERM)
    process.send_signal(signal.SIGCONT)
    assert process.wait(timeout=20) == -signal.SIGTERM
    process.kill()  # after its exit: nothing, as Popen


def test_sigkill_and_a_server_s_environment_unlike_the_zygote_s(
        fork_server: ForkServer, tmp_path: Path) -> None:
    process, _log = probe(fork_server, tmp_path, "wait")
    process.kill()
    assert process.wait(timeout=20) == -signal.SIGKILL
    # The interpreter reads PYTHON* at start-up: such a server must be started with `python -m`.
    assert fork_server.can_start(dict(os.environ))
    assert not fork_server.can_start({**os.environ, "PYTHONHASHSEED": "1"})


def test_stopping_the_fork_server_stops_its_children(tmp_path: Path) -> None:
    server = ForkServer(ROOT, tmp_path / "fork-server.log")
    process = server.start("tests.fork_probe", ["wait"], dict(os.environ), tmp_path,
                           tmp_path / "probe.log")
    server.stop()
    assert server.process.returncode == 0
    with pytest.raises(ProcessLookupError):
        os.kill(process.pid, 0)


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=60)


def test_every_preloaded_module_imports_and_leaves_the_zygote_safe_to_fork() -> None:
    result = run_python("from tests.servers import check_fork_safe, preload\n"
                        "print(preload()); check_fork_safe()")
    assert (result.returncode, result.stdout) == (0, "[]\n"), result.stderr
    # What a preloaded module must not do, caught before any fork.
    result = run_python("import threading, time\n"
                        "from django.conf import settings\n"
                        "from tests.servers import check_fork_safe\n"
                        "import daphne.server\n"
                        "settings.configure()\n"
                        "threading.Thread(target=time.sleep, args=(2,), daemon=True).start()\n"
                        "check_fork_safe()")
    for problem in ("Twisted's reactor is installed", "threads:",
                    "Django's settings are configured"):
        assert problem in result.stderr
