"""A moderator's mute takes effect on the live socket at once: lines are refused, the rest of
the conversation goes on."""
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from moderation.bans import issue_mute
from tests.chatsockets import close_all, pair

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_muted_user_cannot_send_lines_but_stays_in_the_conversation(settings) -> None:
    settings.ANALYSIS_ENABLED = False
    a, b, _, _ = await pair()
    until = timezone.now() + timedelta(hours=1)
    await database_sync_to_async(issue_mute)(a.user.id, "spamming", until)

    await a.send({"type": "message", "text": "buy my stuff"})
    error = await a.error()
    assert error["code"] == "muted" and error["until"].startswith(until.strftime("%Y-%m-%dT%H"))
    assert await b.silent()

    await b.send({"type": "message", "text": "still there?"})
    assert (await a.expect("message"))["text"] == "still there?"
    await close_all(a, b)
