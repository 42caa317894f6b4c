"""One-way "keep in touch" asks do not pile up: the worker's beat purges those past any window
(chat.contacts.tasks.purge_stale_requests) and leaves the ones that may still be answered."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from chat.contacts.models import ContactRequest
from chat.contacts.tasks import purge_stale_requests
from chat.models import Conversation
from tests.keeping import full_user

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.postgres]


def one_way_ask(age: timedelta) -> ContactRequest:
    """Someone asked to keep in touch `age` ago; the partner never answered."""
    asker, other = full_user("Asker"), full_user("Silent")
    started = timezone.now() - age
    conversation = Conversation.objects.create(user_a=asker, user_b=other)
    Conversation.objects.filter(pk=conversation.pk).update(started_at=started,
                                                           ended_at=started)
    request = ContactRequest.objects.create(conversation=conversation.id, asker=asker,
                                            other=other)
    ContactRequest.objects.filter(pk=request.pk).update(created_at=started)
    return request


def test_beat_purges_stale_one_way_asks_and_keeps_fresh_ones(start_worker,
                                                             redis_url: str) -> None:
    window = timedelta(seconds=settings.KEEP_IN_TOUCH_WINDOW_SECONDS)
    stale = one_way_ask(window + timedelta(days=2))
    fresh = one_way_ask(timedelta(seconds=5))
    worker = start_worker(redis_url, CONTACT_REQUEST_PURGE_EVERY_SECONDS="1")
    deadline = time.monotonic() + 60
    while ContactRequest.objects.filter(pk=stale.pk).exists():
        assert worker.poll() is None, worker.log_path.read_text(errors="replace")
        assert time.monotonic() < deadline, worker.log_path.read_text(errors="replace")
        time.sleep(0.2)
    assert ContactRequest.objects.filter(pk=fresh.pk).exists()
    # Idempotent: a second run (another beat, a retry) finds nothing more to delete.
    assert purge_stale_requests() == 0
    assert ContactRequest.objects.filter(pk=fresh.pk).exists()
