"""Whatever users typed (lines, notes, handles, appeals) renders as text in the admin."""
import uuid

import pytest

from accounts.models import User
from chat.models import Conversation
from moderation.decisions import decide_report, file_appeal
from moderation.management.commands.create_moderators_group import ensure_moderators_group
from moderation.reports import file_report

pytestmark = pytest.mark.django_db

HANDLE = '<script>alert("handle")</script>'
LINE = '<img src=x onerror=alert("line")>'
NOTE = '"><svg onload=alert("note")>'
APPEAL = "</textarea><script>alert('appeal')</script>"
PAYLOADS = (HANDLE, LINE, NOTE, APPEAL)
ESCAPED = ("&lt;script&gt;alert(&quot;handle&quot;)&lt;/script&gt;",
           "&lt;img src=x onerror=alert(&quot;line&quot;)&gt;",
           "&quot;&gt;&lt;svg onload=alert(&quot;note&quot;)&gt;")


@pytest.fixture
def hostile_report(client):
    reporter = User.objects.create(username=NOTE[:30])
    reported = User.objects.create(username=HANDLE)
    conversation = Conversation.objects.create(id=uuid.uuid4(), user_a=reporter, user_b=reported)
    report = file_report(reporter.pk, reported.pk, str(conversation.pk), "hate", NOTE, evidence=[
        {"from": HANDLE, "text": LINE, "ts": "2026-11-25T10:00:00Z"},
        {"from": NOTE, "text": HANDLE, "ts": "2026-11-25T10:00:01<script>"}])
    earlier = file_report(reporter.pk, reported.pk, None, "spam", NOTE)
    first = User.objects.create(username="first_mod", is_staff=True)
    decision = decide_report(earlier.pk, first.pk, "warn", LINE)
    file_appeal(reported.pk, decision.pk, APPEAL)
    moderator = User.objects.create(username="mod", is_staff=True)
    moderator.groups.add(ensure_moderators_group())
    client.force_login(moderator)
    return report


def assert_inert(page: str) -> None:
    for payload in PAYLOADS:
        assert payload not in page
    assert "<script>alert" not in page
    assert "onerror=alert" not in page.replace("&lt;img src=x onerror=alert", "")


@pytest.mark.parametrize("url", [
    "/admin/moderation/report/",
    "/admin/moderation/report/?status=all&q=script",
    "/admin/moderation/decision/",
    "/admin/moderation/appeal/",
    "/admin/moderation/mute/",
    "/admin/",
])
def test_lists_render_hostile_text_escaped(client, hostile_report, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 200
    assert_inert(response.content.decode())


def test_report_page_renders_transcript_note_and_handles_escaped(client, hostile_report) -> None:
    page = client.get(f"/admin/moderation/report/{hostile_report.pk}/change/").content.decode()
    assert_inert(page)
    for escaped in ESCAPED:
        assert escaped in page


def test_decision_and_appeal_pages_render_escaped(client, hostile_report) -> None:
    from moderation.models import Appeal, Decision

    for url in (f"/admin/moderation/decision/{Decision.objects.get().pk}/change/",
                f"/admin/moderation/appeal/{Appeal.objects.get().pk}/change/"):
        page = client.get(url).content.decode()
        assert_inert(page)


def test_reason_page_of_an_action_renders_escaped(client, hostile_report) -> None:
    page = client.post("/admin/moderation/report/", {
        "action": "warn", "_selected_action": [str(hostile_report.pk)]}).content.decode()
    assert 'name="reason"' in page
    assert_inert(page)
