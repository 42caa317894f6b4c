"""End to end: a real Celery worker (with beat) against Redis scores the lines that the relay
queued, even lines queued while no worker ran, and files an automatic report."""
import time

import pytest
import redis

from accounts.models import User
from chat.models import Conversation
from moderation.analysis import PENDING_KEY
from moderation.models import ConversationScore, Report
from tests.test_analysis import ABUSIVE, CLEAN, log_live_lines, relay

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.postgres]


def test_real_worker_files_a_report_for_lines_queued_before_it_started(
        start_worker, redis_live: str, settings) -> None:  # noqa: ANN001
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

    worker = start_worker(redis_live)
    log_path = worker.log_path
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
        client.close()
