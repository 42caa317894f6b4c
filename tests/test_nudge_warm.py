"""The analysis worker's first nudge of a daphne process (moderation.analysis) loads nothing:
what Celery makes on a first send (kombu's Redis transport, the result backend, a producer) is
made at start-up (chatsite.asgi.build_lazy_parts), not in the middle of a conversation's first
lines, where its 40-70 ms would stall every socket of the process."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent

# A daphne process's start (the ASGI module), then its first nudge, on a broker that is up.
PROBE = """
import json, sys, time
import chatsite.asgi
from moderation import analysis
before = set(sys.modules)
started = time.thread_time()
analysis._send_drain_task()
print(json.dumps({"new_modules": sorted(set(sys.modules) - before),
                  "cpu_ms": (time.thread_time() - started) * 1000}))
"""


def test_first_nudge_of_a_started_process_loads_nothing(redis_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env |= {"REDIS_URL": redis_url, "DJANGO_SETTINGS_MODULE": "chatsite.settings",
            "LOG_LEVEL": "WARNING", "ANALYSIS_TRIGGER_MS": "500"}
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=60, check=True)
    probe = json.loads(done.stdout.strip().splitlines()[-1])
    assert probe["new_modules"] == []
    # It did reach the broker: the drain task waits in Celery's queue.
    assert redis.Redis.from_url(redis_url).llen("celery") == 1
