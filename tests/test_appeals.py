"""A user reads the decision about them and appeals it once; a different moderator reviews."""
import uuid
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from accounts.models import User
from chat.models import Conversation
from moderation.bans import active_ban, issue_mute
from moderation.decisions import DecisionError, decide_appeal, decide_report, file_appeal
from moderation.management.commands.create_moderators_group import ensure_moderators_group
from moderation.models import Appeal, Decision
from moderation.reports import file_report
from tests.chatsockets import close_all, pair

pytestmark = pytest.mark.django_db
DECISIONS = "/moderation/decisions/"


def moderator(name: str) -> User:
    user = User.objects.create(username=name, is_staff=True)
    user.groups.add(ensure_moderators_group())
    return user


@pytest.fixture
def banned() -> tuple[User, Decision, User]:
    """A user banned for a day by moderator `first`."""
    offender = User.objects.create(username="troll")
    reporter = User.objects.create(username="victim")
    first = moderator("first")
    conversation = Conversation.objects.create(id=uuid.uuid4(), user_a=reporter, user_b=offender)
    report = file_report(reporter.pk, offender.pk, str(conversation.pk), "harassment", "")
    decision = decide_report(report.pk, first.pk, "temporary_ban", "threats <b>in</b> chat",
                             "24h")
    return offender, decision, first


def test_the_user_reads_the_decision_and_its_reason(client, banned) -> None:
    offender, decision, _ = banned
    client.force_login(offender)
    page = client.get(DECISIONS).content.decode()
    assert "Temporary ban" in page
    assert "threats &lt;b&gt;in&lt;/b&gt; chat" in page
    assert "Your account is banned until" in page
    assert f'action="/moderation/decisions/{decision.pk}/appeal/"' in page


def test_the_user_appeals_once_only(client, banned) -> None:
    offender, decision, _ = banned
    client.force_login(offender)
    url = f"/moderation/decisions/{decision.pk}/appeal/"
    assert client.post(url, {"text": "I was quoting them"}).status_code == 302
    again = client.post(url, {"text": "please, again"}, follow=True)
    assert "already appealed" in again.content.decode()
    assert Appeal.objects.get().text == "I was quoting them"
    assert "appeal" in client.get(DECISIONS).content.decode().lower()
    assert f'action="{url}"' not in client.get(DECISIONS).content.decode()


def test_an_empty_appeal_is_refused(client, banned) -> None:
    offender, decision, _ = banned
    client.force_login(offender)
    response = client.post(f"/moderation/decisions/{decision.pk}/appeal/", {"text": " "},
                           follow=True)
    assert "say why" in response.content.decode()
    assert not Appeal.objects.exists()


def test_nobody_appeals_a_decision_about_someone_else(client, banned) -> None:
    _, decision, _ = banned
    client.force_login(User.objects.create(username="nosy"))
    client.post(f"/moderation/decisions/{decision.pk}/appeal/", {"text": "free them"})
    assert not Appeal.objects.exists()


def test_the_deciding_moderator_neither_sees_nor_reviews_the_appeal(client, banned) -> None:
    offender, decision, first = banned
    client.force_login(offender)
    client.post(f"/moderation/decisions/{decision.pk}/appeal/", {"text": "I was quoting them"})
    appeal = Appeal.objects.get()
    client.force_login(first)
    queue = client.get("/admin/moderation/appeal/")
    assert list(queue.context["cl"].result_list) == []
    with pytest.raises(DecisionError, match="another moderator"):
        decide_appeal(appeal.pk, first.pk, grant=True, reason="fine")
    client.post("/admin/moderation/appeal/", {"action": "grant", "apply": "1",
                                              "_selected_action": [str(appeal.pk)],
                                              "reason": "I overrule myself"})
    assert Appeal.objects.get().status == Appeal.Status.OPEN
    assert active_ban(offender.pk) is not None


def test_another_moderator_grants_the_appeal_and_the_ban_is_lifted(client, banned) -> None:
    offender, decision, _ = banned
    client.force_login(offender)
    client.post(f"/moderation/decisions/{decision.pk}/appeal/", {"text": "I was quoting them"})
    second = moderator("second")
    client.force_login(second)
    queue = client.get("/admin/moderation/appeal/")
    appeal = Appeal.objects.get()
    assert list(queue.context["cl"].result_list) == [appeal]
    response = client.post("/admin/moderation/appeal/", {
        "action": "grant", "apply": "1", "_selected_action": [str(appeal.pk)],
        "reason": "the transcript shows a quotation"})
    assert response.status_code == 302
    assert Appeal.objects.get().status == Appeal.Status.GRANTED
    assert active_ban(offender.pk) is None
    outcome = Decision.objects.get(action="appeal_granted")
    assert (outcome.moderator, outcome.reviews) == (second, decision)


def test_a_rejected_appeal_leaves_the_ban_in_force(banned) -> None:
    offender, decision, _ = banned
    from moderation.decisions import file_appeal

    appeal = file_appeal(offender.pk, decision.pk, "unfair")
    decide_appeal(appeal.pk, moderator("second").pk, grant=False, reason="clear threats")
    assert active_ban(offender.pk) is not None
    assert Appeal.objects.get().status == Appeal.Status.REJECTED


@pytest.mark.django_db(transaction=True)
async def test_a_granted_appeal_against_a_mute_reaches_the_live_socket_at_once(settings
                                                                              ) -> None:
    """Issue 14: the lifted mute used to hold on the open socket until it reconnected."""
    settings.ANALYSIS_ENABLED = False
    a, b, _, _ = await pair()
    reviewer = await database_sync_to_async(User.objects.create)(username="Rev")
    mute = await database_sync_to_async(issue_mute)(
        a.user.id, "spamming", timezone.now() + timedelta(hours=1))
    await a.send({"type": "message", "text": "hello?"})
    assert (await a.error())["code"] == "muted"
    appeal = await database_sync_to_async(file_appeal)(a.user.id, mute.decision_id, "sorry")
    await database_sync_to_async(decide_appeal)(appeal.pk, reviewer.pk, True, "fair enough")
    await a.send({"type": "message", "text": "thank you"})
    assert (await b.expect("message"))["text"] == "thank you"
    await close_all(a, b)
