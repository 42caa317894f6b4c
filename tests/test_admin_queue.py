"""The moderator queue in Django admin, and the append-only audit log behind it."""
import re
import uuid
from itertools import count

import pytest
from django.contrib.auth.models import Group

from accounts.models import User
from chat.models import Conversation
from moderation.management.commands.create_moderators_group import ensure_moderators_group
from moderation.models import AppendOnlyError, Decision, Mute, Report
from moderation.reports import file_report

pytestmark = pytest.mark.django_db
QUEUE = "/admin/moderation/report/"
_handles = count()


def user(name: str = "") -> User:
    return User.objects.create(username=name or f"user{next(_handles)}")


def make_moderator(name: str) -> User:
    moderator = User.objects.create(username=name, is_staff=True)
    moderator.groups.add(ensure_moderators_group())
    return moderator


@pytest.fixture
def moderator(client) -> User:
    moderator = make_moderator("mod")
    client.force_login(moderator)
    return moderator


def report(reason: str, reporter: User | None = None, reported: User | None = None,
           evidence: list[dict] | None = None, note: str = "") -> Report:
    reporter, reported = reporter or user(), reported or user()
    conversation = Conversation.objects.create(id=uuid.uuid4(), user_a=reporter, user_b=reported)
    return file_report(reporter.pk, reported.pk, str(conversation.pk), reason, note,
                       evidence=evidence)


def queue_ids(client, query: str = "") -> list[int]:
    response = client.get(QUEUE + query)
    assert response.status_code == 200
    return [r.pk for r in response.context["cl"].result_list]


def decide(client, report_id: int, action: str, **fields: str):
    return client.post(QUEUE, {"action": action, "_selected_action": [str(report_id)],
                               "apply": "1", **fields})


def test_queue_lists_open_reports_highest_priority_first(client, moderator) -> None:
    spam = report("spam")
    child = report("minor_safety")
    hate = report("hate")
    assert queue_ids(client) == [child.pk, hate.pk, spam.pk]


def test_queue_shows_open_reports_unless_another_status_is_asked_for(client, moderator) -> None:
    open_report = report("hate")
    done = report("spam")
    decide(client, done.pk, "dismiss", reason="nothing there")
    assert queue_ids(client) == [open_report.pk]
    assert queue_ids(client, "?status=dismissed") == [done.pk]
    assert set(queue_ids(client, "?status=all")) == {open_report.pk, done.pk}


def test_queue_filters_by_reason(client, moderator) -> None:
    report("hate")
    spam = report("spam")
    assert queue_ids(client, "?reason=spam") == [spam.pk]


def test_report_page_shows_transcript_both_handles_and_the_reported_users_record(
        client, moderator) -> None:
    reporter, reported = user("kind_kiwi"), user("rude_raven")
    earlier = report("spam", reported=reported, note="earlier spam")
    decide(client, earlier.pk, "warn", reason="first warning for spam")
    current = report("harassment", reporter=reporter, reported=reported, note="kept going",
                     evidence=[{"from": "rude_raven", "text": "you are worthless", "ts": "t1"},
                               {"from": "kind_kiwi", "text": "please stop", "ts": "t2"}])
    page = client.get(f"{QUEUE}{current.pk}/change/").content.decode()
    for text in ("kind_kiwi", "rude_raven", "you are worthless", "please stop", "kept going",
                 "first warning for spam", "earlier spam"):
        assert text in page
    for label in ("Dismiss", "Warn", "Mute", "Temporary ban", "Permanent ban"):
        assert re.search(rf'<button[^>]*value="\w+"[^>]*>{label}', page), label


def test_each_action_asks_for_a_reason_first_and_changes_nothing_until_given(
        client, moderator) -> None:
    target = report("hate")
    asked = client.post(QUEUE, {"action": "warn", "_selected_action": [str(target.pk)]})
    assert asked.status_code == 200
    assert 'name="reason"' in asked.content.decode()
    empty = decide(client, target.pk, "warn", reason="   ")
    assert empty.status_code == 200
    assert "This field is required" in empty.content.decode()
    assert not Decision.objects.exists()
    assert Report.objects.get(pk=target.pk).status == Report.Status.OPEN


def test_warn_writes_the_decision_and_closes_the_report(client, moderator) -> None:
    target = report("harassment")
    response = decide(client, target.pk, "warn", reason="insults in the transcript")
    assert response.status_code == 302
    decision = Decision.objects.get()
    assert (decision.action, decision.reason, decision.moderator, decision.subject_id) == (
        "warn", "insults in the transcript", moderator, target.reported_id)
    assert Report.objects.get(pk=target.pk).status == Report.Status.ACTIONED


def test_mute_takes_a_preset_duration_and_refuses_others(client, moderator) -> None:
    target = report("spam")
    refused = decide(client, target.pk, "mute", reason="flooding", duration="5y")
    assert refused.status_code == 200 and not Mute.objects.exists()
    decide(client, target.pk, "mute", reason="flooding", duration="24h")
    mute = Mute.objects.get()
    assert mute.user_id == target.reported_id
    assert 23.9 * 3600 < (mute.until - mute.created_at).total_seconds() <= 24 * 3600


def test_a_decided_report_cannot_be_decided_again(client, moderator) -> None:
    target = report("spam")
    decide(client, target.pk, "dismiss", reason="nothing there")
    decide(client, target.pk, "permanent_ban", reason="second thoughts")
    assert list(Decision.objects.values_list("action", flat=True)) == ["dismiss"]


def test_staff_outside_the_moderators_group_cannot_open_the_queue(client) -> None:
    client.force_login(User.objects.create(username="intern", is_staff=True))
    assert client.get(QUEUE).status_code == 403


def test_admin_index_shows_the_moderation_dashboard(client, moderator) -> None:
    report("hate")
    report("spam")
    page = client.get("/admin/").content.decode()
    assert 'id="moderation-dashboard"' in page
    assert re.search(r"<strong>2</strong>\s*open reports", page)
    assert "<svg" in page and "<rect" in page


# ---- the audit log


def test_a_decision_cannot_be_updated_or_deleted(client, moderator) -> None:
    decide(client, report("spam").pk, "dismiss", reason="nothing there")
    decision = Decision.objects.get()
    decision.reason = "rewritten history"
    with pytest.raises(AppendOnlyError):
        decision.save()
    with pytest.raises(AppendOnlyError):
        decision.delete()
    with pytest.raises(AppendOnlyError):
        Decision.objects.update(reason="rewritten")
    with pytest.raises(AppendOnlyError):
        Decision.objects.all().delete()
    assert Decision.objects.get().reason == "nothing there"


def test_not_even_a_superuser_can_change_or_delete_a_decision_in_admin(client) -> None:
    boss = User.objects.create(username="boss", is_staff=True, is_superuser=True)
    client.force_login(boss)
    decide(client, report("spam").pk, "dismiss", reason="nothing there")
    decision = Decision.objects.get()
    url = f"/admin/moderation/decision/{decision.pk}/"
    assert client.post(url + "change/", {"reason": "rewritten"}).status_code == 403
    assert client.post(url + "delete/", {"post": "yes"}).status_code == 403
    assert client.get("/admin/moderation/decision/add/").status_code == 403
    assert Decision.objects.get().reason == "nothing there"


def test_moderators_have_no_change_or_delete_permission_on_decisions() -> None:
    moderator = make_moderator("mod")
    assert moderator.has_perm("moderation.view_decision")
    for codename in ("add_decision", "change_decision", "delete_decision"):
        assert not moderator.has_perm(f"moderation.{codename}")
    assert Group.objects.get(name="Moderators")


def test_audit_log_lists_each_decision_with_its_moderator_and_a_link_to_the_report(
        client, moderator) -> None:
    target = report("spam")
    decide(client, target.pk, "dismiss", reason="nothing there")
    page = client.get("/admin/moderation/decision/").content.decode()
    assert "nothing there" in page and ">mod<" in page
    assert f'href="/admin/moderation/report/{target.pk}/change/"' in page
