"""Bans and mutes: issued from the admin queue, in force at once, ending on time."""
import uuid
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.utils import timezone

from accounts.models import User
from chat.models import Conversation
from chat.store import get_store
from moderation.bans import active_ban, active_mute, address_banned, issue_ban, issue_mute
from moderation.management.commands.create_moderators_group import ensure_moderators_group
from moderation.models import Ban, Decision, Report
from moderation.reports import file_report

pytestmark = pytest.mark.django_db
QUEUE = "/admin/moderation/report/"


@pytest.fixture
def moderator(client) -> User:
    moderator = User.objects.create(username="mod", is_staff=True)
    moderator.groups.add(ensure_moderators_group())
    client.force_login(moderator)
    return moderator


@pytest.fixture
def offender() -> User:
    return User.objects.create(username="troll")


def report_on(offender: User) -> Report:
    reporter = User.objects.create(username=f"reporter{uuid.uuid4().hex[:6]}")
    conversation = Conversation.objects.create(id=uuid.uuid4(), user_a=reporter, user_b=offender)
    return file_report(reporter.pk, offender.pk, str(conversation.pk), "harassment", "")


def live_socket_of(user: User) -> str:
    """Register a live socket for the user, as the consumer does, and return its channel."""
    channel = async_to_sync(get_channel_layer().new_channel)()
    async_to_sync(get_store().claim_socket)(user.pk, channel)
    return channel


def test_temporary_ban_from_the_admin_creates_the_ban_and_its_decision_and_tells_the_socket(
        client, moderator, offender, django_capture_on_commit_callbacks) -> None:
    report = report_on(offender)
    channel = live_socket_of(offender)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(QUEUE, {"action": "temporary_ban", "apply": "1",
                                       "_selected_action": [str(report.pk)],
                                       "reason": "threats", "duration": "7d"})
    assert response.status_code == 302
    ban = Ban.objects.get()
    decision = Decision.objects.get()
    assert (ban.user, ban.reason, ban.decision) == (offender, "threats", decision)
    assert (decision.action, decision.moderator, decision.report_id) == (
        "temporary_ban", moderator, report.pk)
    assert timedelta(days=6, hours=23) < ban.until - timezone.now() <= timedelta(days=7)
    assert active_ban(offender.pk) == ban
    event = async_to_sync(get_channel_layer().receive)(channel)
    assert event["type"] == "chat.banned"
    assert event["reason"] == "threats"
    assert event["until"].startswith(ban.until.strftime("%Y-%m-%dT%H:%M"))


def test_permanent_ban_has_no_end(client, moderator, offender) -> None:
    report = report_on(offender)
    client.post(QUEUE, {"action": "permanent_ban", "apply": "1",
                        "_selected_action": [str(report.pk)], "reason": "grooming attempt"})
    ban = active_ban(offender.pk)
    assert ban is not None and ban.until is None
    assert Decision.objects.get().action == "permanent_ban"


def test_temporary_ban_needs_a_preset_duration(client, moderator, offender) -> None:
    report = report_on(offender)
    response = client.post(QUEUE, {"action": "temporary_ban", "apply": "1",
                                   "_selected_action": [str(report.pk)], "reason": "threats"})
    assert response.status_code == 200
    assert not Ban.objects.exists() and not Decision.objects.exists()


def test_a_ban_ends_when_its_time_is_up(offender) -> None:
    ban = issue_ban(offender.pk, "spam", timezone.now() + timedelta(hours=1))
    assert active_ban(offender.pk) == ban
    Ban.objects.filter(pk=ban.pk).update(until=timezone.now() - timedelta(seconds=1))
    assert active_ban(offender.pk) is None


def test_a_permanent_ban_outranks_a_temporary_one(offender) -> None:
    issue_ban(offender.pk, "spam", timezone.now() + timedelta(hours=1))
    permanent = issue_ban(offender.pk, "worse")
    issue_ban(offender.pk, "later", timezone.now() + timedelta(days=30))
    assert active_ban(offender.pk) == permanent


def test_a_ban_needs_a_reason_and_a_future_end(offender) -> None:
    with pytest.raises(ValueError, match="reason"):
        issue_ban(offender.pk, "  ")
    with pytest.raises(ValueError, match="future"):
        issue_ban(offender.pk, "spam", timezone.now() - timedelta(minutes=1))
    assert not Ban.objects.exists() and not Decision.objects.exists()


def test_a_mute_says_when_it_ends_and_then_ends(offender) -> None:
    assert active_mute(offender.pk) is None
    until = timezone.now() + timedelta(hours=1)
    mute = issue_mute(offender.pk, "flooding", until)
    assert active_mute(offender.pk) == until
    type(mute).objects.filter(pk=mute.pk).update(until=timezone.now() - timedelta(seconds=1))
    assert active_mute(offender.pk) is None


def test_a_ban_refuses_guest_signups_from_the_address_the_account_last_signed_in_from(
        client, settings) -> None:
    client.post("/accounts/guest/", REMOTE_ADDR="203.0.113.9")
    guest = User.objects.get(is_guest=True)
    assert not address_banned("203.0.113.9")
    issue_ban(guest.pk, "ban evasion", timezone.now() + timedelta(days=1))
    assert address_banned("203.0.113.9")
    assert not address_banned("203.0.113.10")
    assert "203.0.113.9" not in Ban.objects.get().address_hash  # only a keyed hash is kept
    settings.BAN_ADDRESS_HOURS = 0
    assert not address_banned("203.0.113.9")
