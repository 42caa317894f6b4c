from datetime import timedelta
from io import StringIO

import pytest
from asgiref.sync import async_to_sync
from django.core.management import call_command
from django.utils import timezone

from accounts.guests import create_guest
from accounts.models import User
from accounts.tasks import purge_idle_guests
from chat.store import get_store

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("postgres")]


def guest_seen(days_ago: float | None, joined_days_ago: float = 0,
               login_days_ago: float | None = None) -> User:
    now = timezone.now()
    guest = create_guest()
    User.objects.filter(pk=guest.pk).update(
        last_seen=None if days_ago is None else now - timedelta(days=days_ago),
        date_joined=now - timedelta(days=joined_days_ago),
        last_login=None if login_days_ago is None else now - timedelta(days=login_days_ago))
    return guest


def still_there(*users: User) -> list[bool]:
    return [User.objects.filter(pk=user.pk).exists() for user in users]


def test_idle_guests_are_purged_and_everyone_else_stays(settings):
    settings.GUEST_RETENTION_DAYS = 30
    idle = guest_seen(31, joined_days_ago=40)
    never_came_back = guest_seen(None, joined_days_ago=31)
    recently_seen = guest_seen(2, joined_days_ago=40)
    recently_logged_in = guest_seen(45, joined_days_ago=60, login_days_ago=1)
    idle_full_account = User.objects.create_user("NightOwl", password="x" * 12)
    User.objects.filter(pk=idle_full_account.pk).update(
        last_seen=timezone.now() - timedelta(days=400))

    out = StringIO()
    call_command("purge_idle_guests", stdout=out)

    assert "purged 2 guest account(s)" in out.getvalue()
    assert still_there(idle, never_came_back) == [False, False]
    assert still_there(recently_seen, recently_logged_in, idle_full_account) == [True] * 3


def test_retention_follows_the_setting(settings):
    guest = guest_seen(6, joined_days_ago=6)
    settings.GUEST_RETENTION_DAYS = 7
    purge_idle_guests.delay().get()
    assert still_there(guest) == [True]
    settings.GUEST_RETENTION_DAYS = 5
    purge_idle_guests.delay().get()
    assert still_there(guest) == [False]


def test_running_the_purge_task_again_deletes_nothing_more():
    guest_seen(90, joined_days_ago=90)
    assert purge_idle_guests.delay().get() == 1
    assert purge_idle_guests.delay().get() == 0


def test_a_guest_still_connected_is_not_idle():
    connected = guest_seen(90, joined_days_ago=90)
    async_to_sync(get_store().claim_socket)(connected.pk, "specific.test!socket")
    assert purge_idle_guests.delay().get() == 0
    assert still_there(connected) == [True]


def test_a_purged_guest_goes_the_way_of_a_deleted_account():
    from chat.models import Block

    idle = guest_seen(90, joined_days_ago=90)
    other = create_guest()
    Block.objects.create(blocker=idle, blocked=other)
    purge_idle_guests.delay().get()
    assert not Block.objects.exists()
    assert still_there(other) == [True]


def test_celery_beat_runs_the_purge(settings):
    from chatsite.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["purge-idle-guests"]
    assert entry["task"] == purge_idle_guests.name
    assert entry["task"] in app.tasks
    # The other retention jobs stay scheduled next to it.
    assert len(settings.CELERY_BEAT_SCHEDULE) > 1


def test_guests_are_seen_when_created():
    assert create_guest().last_seen is not None


def test_purging_many_guests_opens_no_redis_connection_per_guest(
        redis_live: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import redis.asyncio.connection
    import redis.connection

    guests = [guest_seen(90, joined_days_ago=90) for _ in range(20)]
    async_to_sync(get_store().claim_socket)(guests[0].pk, "specific.test!socket")
    # Every connection this process opens to Redis, sync or asyncio, is counted (and made);
    # `connect` on a connection already open (a pooled one) opens nothing.
    opened: list[str] = []
    for connection, is_open in (
            (redis.connection.AbstractConnection, lambda c: c._sock is not None),
            (redis.asyncio.connection.AbstractConnection, lambda c: c.is_connected)):
        def counted(self, *args, _connect=connection.connect, _open=is_open,  # noqa: ANN001
                    **kwargs):  # noqa: ANN202
            if not _open(self):
                opened.append(type(self).__name__)
            return _connect(self, *args, **kwargs)

        monkeypatch.setattr(connection, "connect", counted)
    assert purge_idle_guests.delay().get() == 19
    # The purge asks the socket registry on the process's one sync client: a connection for
    # the whole run at most, not one (and an event loop) per guest.
    assert len(opened) <= 1, opened
    assert still_there(*guests) == [True] + [False] * 19
