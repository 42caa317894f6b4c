"""/history/ and /history/<conversation>/: a user's own conversations, and nobody else's."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from django.test import Client

from accounts.models import User
from chat.models import KeptConversation
from tests.kept import keep, logged_in, make_user

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _real_postgres(postgres: None) -> None:
    pass


def test_history_lists_own_conversations_newest_first_with_partner_and_length() -> None:
    owner = make_user("lister")
    keep(owner, ["old"], partner="OldOwl", started=datetime(2026, 1, 1, tzinfo=UTC))
    keep(owner, ["new", "newer"], partner="NewNewt", started=datetime(2026, 2, 1, tzinfo=UTC))
    keep(make_user("someone-else"), ["not mine"], partner="Hidden")
    page = logged_in(owner).get("/history/").content.decode()
    assert page.index("NewNewt") < page.index("OldOwl")
    assert "Hidden" not in page
    assert "2026-02-01" in page


def test_history_is_paginated(settings) -> None:  # noqa: ANN001 - pytest-django's settings
    settings.HISTORY_PAGE_SIZE = 2
    owner = make_user("pager")
    for day in range(1, 6):
        keep(owner, ["x"], partner=f"Day{day}", started=datetime(2026, 3, day, tzinfo=UTC))
    client = logged_in(owner)
    first, last = client.get("/history/").content.decode(), client.get(
        "/history/?page=3").content.decode()
    assert "Day5" in first and "Day4" in first and "Day3" not in first
    assert "Day1" in last and "Page 3 of 3" in last


def test_search_finds_conversations_by_their_encrypted_text() -> None:
    owner = make_user("searcher")
    keep(owner, ["we talked about Chess openings"], partner="ChessFan")
    keep(owner, ["only the weather"], partner="Weatherman")
    keep(make_user("other-searcher"), ["chess is also here"], partner="OtherPerson")
    page = logged_in(owner).get("/history/", {"q": "chess OPENINGS"}).content.decode()
    assert "ChessFan" in page and "Weatherman" not in page and "OtherPerson" not in page


def test_transcript_shows_both_sides_escaped() -> None:
    owner = make_user("reader")
    conversation_id = keep(owner, ["<b>hi</b> 👋", "שלום עולם"])
    page = logged_in(owner).get(f"/history/{conversation_id}/").content.decode()
    assert "&lt;b&gt;hi&lt;/b&gt; 👋" in page and "<b>hi</b>" not in page
    assert "שלום עולם" in page


def test_another_users_transcript_answers_404_and_cannot_be_deleted() -> None:
    owner, intruder = make_user("owner"), make_user("intruder")
    conversation_id = keep(owner, ["private"])
    client = logged_in(intruder)
    assert client.get(f"/history/{conversation_id}/").status_code == 404
    assert client.post(f"/history/{conversation_id}/").status_code == 404
    assert client.get(f"/history/{uuid.uuid4()}/").status_code == 404
    assert client.get("/history/1/").status_code == 404
    assert KeptConversation.objects.filter(owner=owner).count() == 1


def test_history_needs_a_login() -> None:
    response = Client().get("/history/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_deleting_one_conversation_keeps_the_others() -> None:
    owner = make_user("deleter")
    doomed, kept = keep(owner, ["bye"]), keep(owner, ["stay"])
    response = logged_in(owner).post(f"/history/{doomed}/")
    assert response.status_code == 302
    assert [str(c) for c in KeptConversation.objects.values_list("conversation", flat=True)] == [
        kept]


def test_deleting_all_history_leaves_other_users_alone() -> None:
    owner, other = make_user("wiper"), make_user("bystander")
    keep(owner, ["a"])
    keep(owner, ["b"])
    keep(other, ["c"])
    client = logged_in(owner)
    assert client.post("/history/", {"action": "nonsense"}).status_code == 400
    assert KeptConversation.objects.filter(owner=owner).count() == 2
    assert client.post("/history/", {"action": "delete_all"}).status_code == 302
    assert list(KeptConversation.objects.values_list("owner__username", flat=True)) == [
        "bystander"]


def test_history_page_says_plainly_when_history_is_off() -> None:
    page = logged_in(make_user("off", keeps_history=False)).get("/history/").content.decode()
    assert "History is off" in page


def test_guest_cannot_turn_history_on() -> None:
    guest = User.objects.create_user(username="GuestGecko1", is_guest=True)
    response = logged_in(guest).post("/account/settings/", {"form": "preferences",
                                                             "keeps_history": "on"})
    assert response.status_code == 200
    guest.refresh_from_db()
    assert guest.keeps_history is False
