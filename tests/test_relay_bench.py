"""`bench/relay.py` in one run: both floors and the project, each figure against both, every
line delivered once and in order. Speed is not asserted here (timings belong to bench/)."""
from __future__ import annotations

import json

import pytest

from tests.test_bench_smoke import bench_env, run_bench  # noqa: F401 - the fixture

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


def test_one_run_measures_both_floors_and_the_project_and_loses_no_line(
        bench_env: dict[str, str]) -> None:  # noqa: F811
    result = run_bench(bench_env, "bench/relay.py", "--quick", "--json",
                       "--duration", "1")
    assert "issue 16 targets" in result.stdout
    figures = json.loads(next(line for line in result.stdout.splitlines()
                              if line.startswith("{")))
    assert figures["mode"] == "full"
    raw = figures["rounds"][0]
    for relay in ("project", "bare", "floor"):
        for phase in ("steady", "peak"):
            step = raw[phase][relay]["steps"][0]
            assert step["sent"] > 0, (relay, phase)
            assert (step["lost"], step["duplicated"], step["reordered"]) == (0, 0, 0), step
        assert figures["figures"]["closed-loop peak lines/s, one process"][relay] > 0
    two = raw["peak"]["project x2"]["steps"][0]
    assert two["sent"] > 0 and two["lost"] == 0
    assert {"daphne0", "daphne1"} <= set(two["cpu_percent"])
    # The project's garbage-collector pauses come from its own /metrics.
    assert raw["steady"]["project"]["gc"]["collections_per_s"] >= 0
