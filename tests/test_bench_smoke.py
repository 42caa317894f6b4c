"""Each benchmark command runs end to end at a tiny size: starts its servers, measures,
prints its table and one JSON line, and stops its servers. Speed is not asserted here."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import pytest

from conftest import TEST_DATABASE_URL

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


@pytest.fixture
def bench_env(postgres: None, redis_url: str) -> dict[str, str]:
    # A database per xdist worker, as pytest-django's: two workers' benchmarks never share one.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    parsed = urlparse(TEST_DATABASE_URL)
    database = urlunparse(parsed._replace(
        path=parsed.path.rstrip("/") + "_bench" + (f"_{worker}" if worker else "")))
    env = {k: v for k, v in os.environ.items()
           if k not in ("REDIS_URL", "DATABASE_URL", "CELERY_BROKER_URL", "BENCH_PORT_BASE")}
    env.update({"BENCH_DATABASE_URL": database, "BENCH_REDIS_URL": redis_url})
    return env


# A quick run proves the command works end to end, not how fast: while the suite's other
# workers share the two cores, the relay's quick run took 61 s with three workers and over
# 90 s with four. Below pytest-timeout's 180 s, so that an overrun is this test's own failure.
BENCH_TIMEOUT = 170
BENCH_STOP_GRACE = 15


def run_bench(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    """Run a benchmark command in a process group of its own: one that overruns is stopped
    with the servers it started (SIGTERM to the group, then SIGKILL), never left running."""
    with subprocess.Popen([sys.executable, *argv], cwd=ROOT, env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          start_new_session=True) as process:
        try:
            stdout, stderr = process.communicate(timeout=BENCH_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                stdout, stderr = process.communicate(timeout=BENCH_STOP_GRACE)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                stdout, stderr = process.communicate()
            pytest.fail(f"{' '.join(argv)} did not finish in {BENCH_TIMEOUT} s:\n"
                        f"{stdout}{stderr}", pytrace=False)
    result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


# A small load that still runs every step of each command (speed is not measured here); four
# pairs, --quick's, as `pair_users` tolerates one broken pair in four.
@pytest.mark.parametrize(("command", "size", "table_title", "benchmark"), [
    ("bench/matching.py", ["--burst", "4", "--queue", "10"],
     "matching with a compatible partner waiting", "matching"),
    ("bench/memory.py", ["--sockets", "4"], "memory per idle connected socket", "memory"),
    ("bench/scaling.py", ["--rates", "2", "--duration", "1"],
     "scaling (ratio = two / one)", "scaling"),
    ("bench/recovery.py", [], "recovery after faults", "recovery"),
    ("bench/redis_client.py", [], "a Lua script call", "redis_client"),
])
def test_benchmark_runs_end_to_end_and_prints_its_table_and_json(
        bench_env: dict[str, str], command: str, size: list[str], table_title: str,
        benchmark: str) -> None:
    result = run_bench(bench_env, command, "--quick", "--json", *size)
    assert table_title in result.stdout
    json_lines = [json.loads(line) for line in result.stdout.splitlines()
                  if line.startswith("{")]
    assert [line["benchmark"] for line in json_lines] == [benchmark]


def test_relay_benchmark_delivers_every_line_once_in_order_and_plots_latency_against_load(
        bench_env: dict[str, str], tmp_path: Path) -> None:
    result = run_bench(bench_env, "bench/relay.py", "--quick", "--max", "--json",
                       "--rates", "2", "--duration", "1")
    assert "latency (ms) against offered load" in result.stdout
    assert "peak delivered lines/s" in result.stdout
    json_line = next(line for line in result.stdout.splitlines() if line.startswith("{"))
    figures = json.loads(json_line)
    for relay in ("daphne", "bare"):
        step = figures[relay]["steps"][0]
        assert step["sent"] > 0
        assert (step["lost"], step["duplicated"], step["reordered"]) == (0, 0, 0), step
    results = tmp_path / "relay.jsonl"
    results.write_text(json_line + "\n")
    svg_path = tmp_path / "latency.svg"
    plotted = run_bench(bench_env, "bench/plot.py", str(results), "--out", str(svg_path))
    assert "plotted to" in plotted.stdout
    svg = svg_path.read_text()
    assert svg.startswith("<svg") and "offered load" in svg and "bare relay" in svg
