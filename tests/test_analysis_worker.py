"""End to end: a real Celery worker (with beat) against Redis scores the lines that the relay
queued, even lines queued while no worker ran, and files an automatic report."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings as django_settings

import conftest
from accounts.models import User
from chat.models import Conversation
from moderation.analysis import PENDING_KEY
from moderation.models import ConversationScore, Report
from tests.test_analysis import ABUSIVE, CLEAN, log_live_lines, relay

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.postgres]


def start_worker(redis_url: str, log_path: Path, schedule_path: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update({
        "DATABASE_URL": conftest.test_database_url(),
        "REDIS_URL": redis_url,
        "SECRET_KEY": django_settings.SECRET_KEY,
        "DATABASE_CONN_MAX_AGE": "0",
        "ANALYSIS_DRAIN_SECONDS": "0.5",
    })
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "chatsite", "worker", "--beat", "--pool=solo",
         "--schedule-filename", str(schedule_path), "--loglevel=INFO",
         "--hostname=analysis-test@%h"],
        cwd=conftest.ROOT, env=env, stdout=log_path.open("wb"), stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_real_worker_files_a_report_for_lines_queued_before_it_started(
        postgres: None, transactional_db: None, redis_live: str, settings,  # noqa: ANN001
        tmp_path: Path) -> None:
    settings.ANALYSIS_TRIGGER_MS = 0  # beat inside the worker does the draining
    rude = User.objects.create(username="rude")
    kind = User.objects.create(username="kind")
    conversation = Conversation.objects.create(user_a=rude, user_b=kind)
    client = redis.Redis.from_url(redis_live)

    log_live_lines(conversation, [(kind, "hello"), (rude, ABUSIVE[0])])
    # No worker yet (as when the broker or the workers are down): the relay still queues.
    relay(kind, conversation, CLEAN)
    relay(rude, conversation, ABUSIVE, first_seq=100)
    assert client.llen(PENDING_KEY) == len(CLEAN) + len(ABUSIVE)

    log_path = tmp_path / "worker.log"
    worker = start_worker(redis_live, log_path, tmp_path / "beat-schedule")
    try:
        deadline = time.monotonic() + 90
        while not Report.objects.exists() and time.monotonic() < deadline:
            assert worker.poll() is None, log_path.read_text(errors="replace")
            time.sleep(0.2)
        report = Report.objects.filter(reporter=None).first()
        assert report is not None, log_path.read_text(errors="replace")
        assert report.reported == rude
        assert report.conversation == conversation
        assert report.classifier_score > 0.8
        assert [line["from"] for line in report.evidence] == ["kind", "rude"]

        # Lines relayed while the worker runs are picked up too, and count once.
        relay(rude, conversation, ABUSIVE[:1], first_seq=200)
        deadline = time.monotonic() + 30
        while (ConversationScore.objects.get(user=rude).flagged_lines < len(ABUSIVE) + 1
               and time.monotonic() < deadline):
            time.sleep(0.2)
        assert ConversationScore.objects.get(user=rude).flagged_lines == len(ABUSIVE) + 1
        assert client.llen(PENDING_KEY) == 0
        assert Report.objects.count() == 1
        assert not ConversationScore.objects.filter(user=kind).exists()
    finally:
        stop(worker)
        client.close()
