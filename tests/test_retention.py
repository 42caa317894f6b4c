"""Retention and erasure: old history, expired exports and a deleted account's record go,
and nothing else does."""
from __future__ import annotations

import io
import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import User
from chat.history import SeenConversation, SeenLine, erase_user_history, tasks, write_events
from chat.models import HistoryExport, KeptConversation, KeptLine

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _real_postgres(postgres: None) -> None:
    pass


def make_user(name: str) -> User:
    return User.objects.create_user(username=name, password="x-pass-123", keeps_history=True)


def keep(owner: User, days_ago: float, partner: str) -> None:
    conversation_id = str(uuid.uuid4())
    started = timezone.now() - timedelta(days=days_ago)
    write_events([
        SeenConversation(owner.id, conversation_id, "text", partner, started.isoformat()),
        SeenLine(owner.id, conversation_id, f"{conversation_id}.1", True, "hi",
                 started.isoformat(), False),
    ])


def export_for(owner: User, expires_in: timedelta) -> HistoryExport:
    return HistoryExport.objects.create(owner=owner, expires_at=timezone.now() + expires_in)


def partners_left() -> list[str]:
    return sorted(KeptConversation.objects.values_list("partner_handle", flat=True))


def test_history_older_than_the_retention_period_is_purged_and_nothing_else(settings) -> None:  # noqa: ANN001
    settings.HISTORY_RETENTION_DAYS = 30
    owner, other = make_user("keeper"), make_user("other")
    keep(owner, 31, "TooOld")
    keep(owner, 29.9, "Recent")
    keep(other, 400, "OthersOld")
    keep(other, 1, "OthersNew")
    assert tasks.purge_old_history.delay().get() == 2
    assert partners_left() == ["OthersNew", "Recent"]
    assert KeptLine.objects.count() == 2


def test_default_retention_is_a_year() -> None:
    owner = make_user("yearly")
    keep(owner, 366, "LastYear")
    keep(owner, 364, "ThisYear")
    out = io.StringIO()
    call_command("purge_history", stdout=out)
    assert "purged 1 kept conversation" in out.getvalue()
    assert partners_left() == ["ThisYear"]


def test_expired_exports_are_purged_and_valid_ones_stay() -> None:
    owner = make_user("exporter")
    expired = export_for(owner, timedelta(seconds=-1))
    valid = export_for(owner, timedelta(hours=1))
    assert tasks.purge_expired_exports.delay().get() == 1
    assert list(HistoryExport.objects.values_list("pk", flat=True)) == [valid.pk]
    assert not HistoryExport.objects.filter(pk=expired.pk).exists()
    out = io.StringIO()
    call_command("purge_exports", stdout=out)
    assert "purged 0 expired export" in out.getvalue()


def test_erasing_a_users_history_removes_their_copies_and_exports_only() -> None:
    leaving, staying = make_user("leaving"), make_user("staying")
    keep(leaving, 1, "A")
    keep(leaving, 2, "B")
    keep(staying, 1, "C")
    export_for(leaving, timedelta(hours=1))
    kept_export = export_for(staying, timedelta(hours=1))
    erase_user_history(leaving.id)
    assert partners_left() == ["C"]
    assert KeptLine.objects.count() == 1
    assert list(HistoryExport.objects.values_list("pk", flat=True)) == [kept_export.pk]
    assert User.objects.filter(pk=leaving.pk).exists()


def test_beat_runs_both_purges() -> None:
    from django.conf import settings

    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"chat.history.tasks.purge_old_history",
            "chat.history.tasks.purge_expired_exports"} <= scheduled
