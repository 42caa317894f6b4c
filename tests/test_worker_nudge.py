"""The relay's nudge of the analysis worker (moderation.analysis.WorkerNudge): made at start by
Celery itself, sent from the event loop as one LPUSH; a real worker runs the task it names,
before beat's next drain would; a nudge loads no code (what the first send through Celery
would import, 40-70 ms holding the interpreter, happens at start)."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from conftest import abusive_conversation
from moderation.analysis import PENDING_KEY, WorkerNudge
from moderation.models import Report

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent

# A daphne process's start (the ASGI module), then a nudge, and Celery's own send of the task.
PROBE = """
import asyncio, json, sys
import chatsite.asgi
from chatsite.celery import app as celery_app
from moderation import analysis
before = set(sys.modules)
asyncio.run(analysis.worker_nudge().send())
loaded = sorted(set(sys.modules) - before)
celery_app.send_task(analysis.DRAIN_TASK, retry=False, expires=2.0)
print(json.dumps({"new_modules": loaded}))
"""


def test_a_nudge_is_the_message_celery_sends_and_loads_nothing(redis_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env |= {"REDIS_URL": redis_url, "DJANGO_SETTINGS_MODULE": "chatsite.settings",
            "LOG_LEVEL": "WARNING", "ANALYSIS_TRIGGER_MS": "500"}
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=60, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1])["new_modules"] == []
    # Celery's message (pushed last, so first in the list) and the nudge's are alike but for
    # what is each message's own.
    celerys, nudge = (json.loads(raw) for raw in redis.Redis.from_url(redis_url)
                      .lrange("celery", 0, -1))
    own = {"id", "root_id", "expires", "correlation_id", "delivery_tag"}
    for part in ("headers", "properties"):
        assert celerys[part].keys() == nudge[part].keys()
        assert {k: v for k, v in celerys[part].items() if k not in own} == {
            k: v for k, v in nudge[part].items() if k not in own}
        assert all(celerys[part][k] != nudge[part][k] for k in own & celerys[part].keys())
    assert {k: v for k, v in celerys.items() if k not in ("headers", "properties")} == {
        k: v for k, v in nudge.items() if k not in ("headers", "properties")}


def test_a_worker_drains_when_nudged_long_before_beat_would(start_server: Any,
                                                            start_worker: Any,
                                                            redis_url: str) -> None:
    # Beat drains once an hour here, first when the worker starts: only a nudge brings the
    # worker to lines said after that.
    worker = start_worker(redis_url, ANALYSIS_DRAIN_SECONDS="3600")
    deadline = time.monotonic() + 60
    while "ready" not in worker.log_path.read_text(errors="replace"):
        assert time.monotonic() < deadline, worker.log_path.read_text(errors="replace")
        time.sleep(0.2)
    time.sleep(1)  # beat's first drain, of an empty queue, is over
    server = start_server(redis_url=redis_url, ANALYSIS_TRIGGER_MS="100")
    conversation = abusive_conversation(server.url)
    deadline = time.monotonic() + 30
    while not Report.objects.filter(conversation_id=conversation, reporter=None).exists():
        assert time.monotonic() < deadline, worker.log_path.read_text(errors="replace")
        time.sleep(0.2)
    assert redis.Redis.from_url(redis_url).llen(PENDING_KEY) == 0


async def test_a_broker_that_never_answers_does_not_hold_the_flush(settings: Any) -> None:
    """The nudge ends within ANALYSIS_ENQUEUE_TIMEOUT_MS even when the broker takes the
    connection and the command and never answers."""
    settings.ANALYSIS_ENQUEUE_TIMEOUT_MS = 200

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(4096):
            pass

    silent = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    nudge = WorkerNudge(f"redis://127.0.0.1:{port}/0", "celery", {"headers": {},
                                                                  "properties": {}}, 2.0)
    async with silent:
        await asyncio.wait_for(nudge.send(), 5)
