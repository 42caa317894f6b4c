"""Report evidence holds any text a line can hold, NUL included (issue 11, finding 2).

PostgreSQL's jsonb refuses the escape `\\u0000`, so a harasser who sent `"x\\u0000"` first used
to make the conversation unreportable. The evidence column now escapes NUL reversibly; the
report exists, moderators see the line, and the reporter's kept copy still ends.
"""
from __future__ import annotations

import time

import pytest
from chatclient import Socket, guest_session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from chat.models import KeptConversation
from moderation.models import Report
from moderation.reports import file_report

NUL_LINE = "x\u0000"
TRICKY = ["x\u0000", "\u0000", "a\u0000b\u0000", "\ue000", "\ue0000", "\ue000\u0000\ue001",
          "\\u0000", "plain"]


def keeper_session(name: str) -> str:
    """A full account that keeps history, logged in; returns its session id."""
    user = User.objects.create_user(username=name, password="x-pass-123", keeps_history=True,
                                    rules_accepted_at=timezone.now())
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def guest(url: str) -> str:
    """A new guest on the server at `url` who has accepted the community rules."""
    session = guest_session(url)
    User.objects.filter(is_guest=True, rules_accepted_at__isnull=True).update(
        rules_accepted_at=timezone.now())
    return session


def wait_for(condition, timeout: float = 10.0) -> bool:  # noqa: ANN001 - a callable
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.django_db
@pytest.mark.parametrize("text", TRICKY)
def test_evidence_keeps_every_character_a_line_can_hold(text: str) -> None:
    a = User.objects.create(username="alice")
    b = User.objects.create(username="bob")
    evidence = [{"from": "bob", "text": text, "ts": "2026-11-25T10:00:00Z"}]
    report = file_report(a.pk, b.pk, None, "harassment", text, evidence=evidence)
    stored = Report.objects.get(pk=report.pk)
    assert stored.evidence == evidence
    assert stored.note == text.replace("\u0000", "")  # a note is typed, not evidence


@pytest.mark.django_db
def test_moderator_sees_a_nul_as_a_visible_symbol_in_admin() -> None:
    a = User.objects.create(username="alice")
    b = User.objects.create(username="bob")
    report = file_report(a.pk, b.pk, None, "harassment", "",
                         evidence=[{"from": "bob", "text": "hi\u0000there", "ts": "t"}])
    moderator = User.objects.create_superuser(username="mod", password="x-pass-123")
    client = Client()
    client.force_login(moderator)
    page = client.get(reverse("admin:moderation_report_change", args=[report.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "hi\u2400there" in html
    assert "\u0000" not in html


@pytest.mark.e2e
def test_a_line_with_nul_can_be_reported_across_two_processes(start_server, redis_url) -> None:
    one = start_server(redis_url)
    two = start_server(redis_url)
    keeper = Socket(one.url, keeper_session("Keeper1"))
    harasser = Socket(two.url, guest(two.url))
    for side in (keeper, harasser):
        side.expect("welcome")
        side.send({"type": "find", "mode": "text"})
    conversation = keeper.expect("matched", 20)["conversation"]
    assert harasser.expect("matched", 20)["conversation"] == conversation
    harasser.send({"type": "message", "text": NUL_LINE})
    harasser.expect("message")
    keeper.expect("message")
    keeper.send({"type": "report", "reason": "harassment", "note": "sent a NUL"})
    reported = keeper.expect("reported")
    report = Report.objects.get(pk=reported["report"])
    assert report.reported.username == harasser_handle(report)
    assert [line["text"] for line in report.evidence][-1].startswith("x")
    keeper.send({"type": "leave"})
    keeper.expect("ended")
    kept = KeptConversation.objects.filter(owner__username="Keeper1")
    assert wait_for(lambda: kept.filter(ended_at__isnull=False).exists()), \
        "the keeper's copy never got its ended_at"
    assert kept.get().ended_how == "reported"
    keeper.close()
    harasser.close()


def harasser_handle(report: Report) -> str:
    return report.reported_handle


@pytest.mark.e2e
def test_a_dropped_keepers_copy_ends_when_the_grace_runs_out(start_server, redis_url) -> None:
    """The keeper reports, then its connection drops (no close frame) and never resumes: the
    partner's process ends the conversation after the grace and closes the keeper's copy too
    (it used to stay open forever, whether or not the report had been stored)."""
    one = start_server(redis_url, RECONNECT_GRACE_SECONDS="1")
    two = start_server(redis_url, RECONNECT_GRACE_SECONDS="1")
    keeper = Socket(one.url, keeper_session("Keeper2"))
    partner = Socket(two.url, guest(two.url))
    for side in (keeper, partner):
        side.expect("welcome")
        side.send({"type": "find", "mode": "text"})
    keeper.expect("matched", 20)
    partner.expect("matched", 20)
    partner.send({"type": "message", "text": NUL_LINE})
    partner.expect("message")
    keeper.expect("message")
    keeper.send({"type": "report", "reason": "spam", "note": ""})
    keeper.expect("reported")
    keeper.sock.close()  # the connection drops: no close frame
    assert partner.expect("partner_left", 15, skip=("partner_reconnecting",))["reason"] == \
        "disconnected"
    kept = KeptConversation.objects.filter(owner__username="Keeper2")
    assert wait_for(lambda: kept.filter(ended_at__isnull=False).exists()), \
        "the dropped keeper's copy never got its ended_at"
    partner.close()
