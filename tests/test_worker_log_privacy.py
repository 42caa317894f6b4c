"""A real Celery worker logs through the project's LOGGING (chatsite.logging's filter): a
task that fails on the database writes no chat text or handle to the worker's log.

Celery's default replaces the root handlers with its own, which have no filter, and logs a
failed task's exception (`%(exc)s`, the database's message quoting the row) and traceback.
"""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import User
from chat.models import Conversation
from tests.test_analysis import ABUSIVE, log_live_lines, relay
from tests.test_log_privacy import assert_private
from tests.test_log_privacy import refuse as refuse  # noqa: F401 - the fixture, dropped after

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.postgres]

SECRET_LINE = "my-secret-line-5e1d"
GUEST_HANDLE = "ForgottenGuest5e1d"


def wait_for(worker, *needles: str, seconds: float = 60) -> str:  # noqa: ANN001 - Popen
    deadline = time.monotonic() + seconds
    while True:
        log = worker.log_path.read_text(errors="replace")
        if all(needle in log for needle in needles) or time.monotonic() > deadline:
            return log
        assert worker.poll() is None, log
        time.sleep(0.2)


def test_failed_tasks_log_no_chat_text_or_handle(start_worker, redis_live: str, refuse,
                                                 settings) -> None:  # noqa: ANN001, F811
    settings.ANALYSIS_TRIGGER_MS = 0  # beat inside the worker does the draining
    rude = User.objects.create(username="RudeSender5e1d")
    kind = User.objects.create(username="KindSender5e1d")
    conversation = Conversation.objects.create(user_a=rude, user_b=kind)
    long_ago = timezone.now() - timedelta(days=settings.GUEST_RETENTION_DAYS + 5)
    User.objects.create(username=GUEST_HANDLE, is_guest=True, date_joined=long_ago)
    # The automatic report quotes the live lines as evidence; the guest purge deletes the
    # guest's row: both writes fail, with the row (text, handles) in the database's message.
    log_live_lines(conversation, [(kind, SECRET_LINE), (rude, ABUSIVE[0])])
    relay(rude, conversation, ABUSIVE)
    refuse("moderation_report", "accounts_user")

    worker = start_worker(redis_live, GUEST_PURGE_EVERY_SECONDS="1")
    # A retried drain (INFO) and a failed purge (ERROR, with its traceback).
    log = wait_for(worker, "moderation.tasks.analyse_pending", "retry",
                   "accounts.tasks.purge_idle_guests", "raised unexpected")
    assert "analyse_pending" in log and "retry" in log, log
    assert "purge_idle_guests" in log and "raised unexpected" in log, log
    assert "Traceback" in log, log
    assert "[P0001]: forced failure" in log, log  # what an operator needs
    assert_private(log, SECRET_LINE, GUEST_HANDLE, rude.username, kind.username)
