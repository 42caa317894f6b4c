"""/contacts/ and /contacts/<id>/: a person's contacts, their letters and the actions on them
(protocol section 5), on the real PostgreSQL and Redis."""
from __future__ import annotations

import uuid

import pytest
from asgiref.sync import async_to_sync
from django.test import Client

from accounts.models import User
from chat.contacts import services
from chat.contacts.models import Contact, Letter
from chat.models import Block
from chat.store import get_store
from chatsite.plumbing.crypto import encrypt_text
from moderation.management.commands.create_moderators_group import ensure_moderators_group
from moderation.models import Report
from tests.keeping import contacts, full_user

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db]

JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture(autouse=True)
def _real_services(postgres: None, redis_live: str) -> None:
    pass


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def letter(contact_id: str, sender: User, text: str) -> Letter:
    return Letter.objects.create(contact_id=contact_id, sender=sender, body=encrypt_text(text))


def go_online(user: User) -> None:
    async_to_sync(get_store().claim_socket)(user.pk, f"specific.test!{user.pk}")


def test_contacts_json_lists_handle_since_presence_and_unread_of_own_contacts_only() -> None:
    me, sharing, private, stranger = (full_user("Me"), full_user("Sharer"),
                                      full_user("Private", shares_presence=False),
                                      full_user("Stranger"))
    with_sharing, with_private = contacts(me, sharing), contacts(me, private)
    contacts(sharing, stranger)  # someone else's contact: never listed to me
    letter(with_sharing, sharing, "hello")
    letter(with_sharing, sharing, "are you there?")
    letter(with_sharing, me, "mine do not count")
    go_online(sharing)
    go_online(private)
    body = client_for(me).get("/contacts/", **JSON).json()
    listed = {entry["handle"]: entry for entry in body["contacts"]}
    assert set(listed) == {sharing.username, private.username}
    assert listed[sharing.username] == {
        "id": with_sharing, "handle": sharing.username,
        "since": listed[sharing.username]["since"], "online": True, "unread": 2}
    assert listed[sharing.username]["since"].endswith("Z")
    # Online, but they do not share presence: nobody learns it.
    assert listed[private.username]["online"] is None and listed[private.username]["id"] == \
        with_private
    assert client_for(me).get("/contacts/?format=json").json() == body


def test_contact_who_shares_presence_but_has_no_socket_is_shown_away() -> None:
    me, friend = full_user(), full_user()
    contacts(me, friend)
    page = client_for(me).get("/contacts/").content.decode()
    assert friend.username in page and "away" in page
    assert client_for(me).get("/contacts/", **JSON).json()["contacts"][0]["online"] is False


def test_contacts_page_offers_talk_now_write_remove_block_report_and_no_search() -> None:
    me, friend = full_user(), full_user()
    contact_id = contacts(me, friend)
    page = client_for(me).get("/contacts/").content.decode()
    for mode in ("text", "voice", "video"):
        assert f'href="/chat/?invite={contact_id}&amp;mode={mode}"' in page
    assert f'href="/contacts/{contact_id}/"' in page
    assert f'action="/contacts/{contact_id}/remove/"' in page
    assert f'action="/contacts/{contact_id}/block/"' in page
    assert f'href="/contacts/{contact_id}/#report"' in page
    assert 'type="search"' not in page and 'name="q"' not in page


def test_contacts_page_needs_login_and_tells_a_guest_to_claim_the_account() -> None:
    assert Client().get("/contacts/").status_code == 302
    guest = User.objects.create_user(username="GuestOtter1", is_guest=True)
    page = client_for(guest).get("/contacts/").content.decode()
    assert "Guests cannot keep in touch" in page


def test_thread_shows_letters_oldest_first_and_reading_marks_them_read() -> None:
    me, friend = full_user(), full_user()
    contact_id = contacts(me, friend)
    first, second = letter(contact_id, friend, "first <b>bold</b>"), letter(contact_id, me, "two")
    client = client_for(me)
    assert client.get("/contacts/", **JSON).json()["contacts"][0]["unread"] == 1
    body = client.get(f"/contacts/{contact_id}/", **JSON).json()
    assert body == {"letters": [
        {"id": str(first.id), "from": "partner", "text": "first <b>bold</b>",
         "ts": body["letters"][0]["ts"], "filtered": False},
        {"id": str(second.id), "from": "me", "text": "two", "ts": body["letters"][1]["ts"],
         "filtered": False}]}
    assert client.get("/contacts/", **JSON).json()["contacts"][0]["unread"] == 0
    # The writer's own letter stays unread until the other side reads it.
    assert Letter.objects.get(pk=second.pk).read_at is None
    page = client.get(f"/contacts/{contact_id}/").content.decode()
    assert "first &lt;b&gt;bold&lt;/b&gt;" in page and "<b>bold</b>" not in page


def test_no_one_else_can_read_or_act_on_a_contact() -> None:
    a, b, outsider = full_user(), full_user(), full_user()
    contact_id = contacts(a, b)
    letter(contact_id, a, "private")
    client = client_for(outsider)
    assert client.get(f"/contacts/{contact_id}/").status_code == 404
    assert client.get(f"/contacts/{contact_id}/", **JSON).status_code == 404
    for action in ("letters", "remove", "block", "report"):
        response = client.post(f"/contacts/{contact_id}/{action}/",
                               {"text": "hi", "reason": "spam"})
        assert response.status_code == 404, action
    assert client_for(a).get(f"/contacts/{uuid.uuid4()}/").status_code == 404
    assert Contact.objects.filter(pk=contact_id).exists()
    assert Letter.objects.count() == 1 and not Block.objects.exists()
    assert not Report.objects.exists()


@pytest.mark.parametrize("side", ["first", "second"])
def test_remove_from_either_side_ends_the_contact_and_its_letters_for_both(side: str) -> None:
    a, b = full_user(), full_user()
    contact_id = contacts(a, b)
    letter(contact_id, a, "bye")
    remover, other = (a, b) if side == "first" else (b, a)
    response = client_for(remover).post(f"/contacts/{contact_id}/remove/")
    assert response.status_code == 302 and response["Location"] == "/contacts/"
    assert client_for(other).get("/contacts/", **JSON).json() == {"contacts": []}
    assert client_for(other).get(f"/contacts/{contact_id}/").status_code == 404
    assert not Letter.objects.exists()
    assert not Block.objects.exists()
    # Removing is not blocking: they may keep in touch again later.
    assert services.connect(a.pk, b.pk)


@pytest.mark.parametrize("side", ["first", "second"])
def test_block_from_either_side_removes_the_contact_and_blocks_for_good(side: str) -> None:
    a, b = full_user(), full_user()
    contact_id = contacts(a, b)
    blocker, other = (a, b) if side == "first" else (b, a)
    response = client_for(blocker).post(f"/contacts/{contact_id}/block/", **JSON)
    assert response.status_code == 200 and response.json() == {"ok": True}
    assert Block.objects.filter(blocker=blocker, blocked=other).exists()
    assert client_for(other).get("/contacts/", **JSON).json() == {"contacts": []}
    with pytest.raises(services.ContactError) as refused:
        services.connect(a.pk, b.pk)
    assert refused.value.code == "blocked"


def test_a_block_in_a_conversation_also_ends_the_contact() -> None:
    a, b = full_user(), full_user()
    contacts(a, b)
    Block.objects.create(blocker=b, blocked=a)
    assert not Contact.objects.exists()


def test_report_carries_recent_letters_as_evidence_seen_by_moderators(settings) -> None:  # noqa: ANN001
    settings.LETTER_EVIDENCE_COUNT = 2
    reporter, writer = full_user("Reporter"), full_user("Writer")
    contact_id = contacts(reporter, writer)
    letter(contact_id, writer, "too old to be evidence")
    letter(contact_id, writer, "send me money now")
    letter(contact_id, reporter, "no thanks")
    response = client_for(reporter).post(f"/contacts/{contact_id}/report/",
                                         {"reason": "spam", "note": "asks for money"})
    assert response.status_code == 302
    report = Report.objects.get()
    assert (report.reporter, report.reported, report.reason) == (reporter, writer, "spam")
    assert [(line["from"], line["text"]) for line in report.evidence] == [
        (writer.username, "send me money now"), (reporter.username, "no thanks")]
    moderator = User.objects.create(username="ModOwl", is_staff=True)
    moderator.groups.add(ensure_moderators_group())
    page = client_for(moderator).get(
        f"/admin/moderation/report/{report.pk}/change/").content.decode()
    assert "send me money now" in page and "no thanks" in page
    # Reporting does not end the contact: blocking does.
    assert Contact.objects.filter(pk=contact_id).exists()


def test_report_with_an_unknown_reason_is_refused_and_stores_nothing() -> None:
    a, b = full_user(), full_user()
    contact_id = contacts(a, b)
    response = client_for(a).post(f"/contacts/{contact_id}/report/",
                                  {"reason": "because"}, **JSON)
    assert response.status_code == 400 and response.json()["error"] == "bad_frame"
    assert not Report.objects.exists()


def test_only_full_accounts_who_have_not_blocked_each_other_become_contacts() -> None:
    full = full_user()
    guest = User.objects.create_user(username="GuestNewt7", is_guest=True)
    with pytest.raises(services.ContactError) as refused:
        services.connect(full.pk, guest.pk)
    assert refused.value.code == "account_required"
    other = full_user()
    first = services.connect(full.pk, other.pk)
    assert services.connect(other.pk, full.pk) == first  # one id for both sides, idempotent
    assert Contact.objects.count() == 1


def test_settings_page_turns_presence_sharing_off_and_the_chat_toggle_leaves_it_alone() -> None:
    me = full_user()
    client = client_for(me)
    page = client.get("/account/settings/").content.decode()
    assert 'name="shares_presence"' in page and "checked" in page
    client.post("/account/settings/", {"form": "preferences", "keeps_history": "on"})
    me.refresh_from_db()
    assert me.keeps_history and not me.shares_presence
    client.post("/account/settings/", {"form": "preferences", "shares_presence": "on"})
    # The chat page's history switch sends only keeps_history (as JSON).
    client.post("/account/settings/", {"form": "preferences", "keeps_history": "on"}, **JSON)
    me.refresh_from_db()
    assert me.keeps_history and me.shares_presence


def test_reports_from_the_page_share_the_socket_reports_budget(settings) -> None:  # noqa: ANN001
    settings.REPORT_RATE_LIMIT = "1/h"
    a, b = full_user(), full_user()
    contact_id = contacts(a, b)
    # A report made on the live socket counts against the same limit (the consumer's key).
    assert async_to_sync(get_store().hit)(f"reports:{a.pk}", settings.REPORT_RATE_LIMIT) is None
    response = client_for(a).post(f"/contacts/{contact_id}/report/", {"reason": "spam"},
                                  **JSON)
    assert response.status_code == 429 and response.json()["error"] == "rate_limited"
    assert int(response["Retry-After"]) > 0
    assert not Report.objects.exists()
