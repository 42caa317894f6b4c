import asyncio
import uuid
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.test import Client
from django.utils import timezone

from accounts.deletion import delete_account, pseudonym_for
from accounts.guests import create_guest
from accounts.models import User
from chat.models import Block, Conversation, HistoryExport, KeptConversation
from chat.store import get_store
from moderation.models import Decision, Report

PASSWORD = "correct horse battery staple"


@pytest.fixture
def night_owl(db, postgres) -> User:  # noqa: ANN001 - pytest-django's db
    return User.objects.create_user("NightOwl", password=PASSWORD, keeps_history=True)


@pytest.fixture
def owl_client(night_owl: User) -> Client:
    client = Client()
    client.force_login(night_owl)
    return client


def test_deletion_needs_a_login(db, postgres):
    response = Client().post("/account/delete/", {"password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_settings_page_leads_to_account_deletion(owl_client):
    assert 'href="/account/delete/"' in owl_client.get("/account/settings/").content.decode()


def test_full_account_is_asked_for_its_password_and_a_guest_for_its_handle(owl_client, client):
    assert set(owl_client.get("/account/delete/").context["form"].fields) == {"password"}
    guest = create_guest()
    client.force_login(guest)
    page = client.get("/account/delete/")
    assert set(page.context["form"].fields) == {"confirm_handle"}
    assert guest.username in page.content.decode()


def test_a_wrong_password_deletes_nothing_and_says_why(owl_client, night_owl):
    response = owl_client.post("/account/delete/", {"password": "not my password"})
    assert response.status_code == 200
    assert "That is not your password." in response.content.decode()
    assert User.objects.filter(pk=night_owl.pk, is_active=True).exists()
    assert owl_client.get("/chat/").status_code == 200


def test_the_right_password_deletes_the_account_and_logs_out_for_good(owl_client, night_owl):
    response = owl_client.post("/account/delete/", {"password": PASSWORD}, follow=True)
    assert response.redirect_chain[0] == ("/", 302)
    assert "Your account and everything kept with it are deleted." in response.content.decode()
    assert not User.objects.filter(pk=night_owl.pk).exists()
    assert owl_client.get("/chat/").status_code == 302
    login = Client().post("/accounts/login/", {"login": "NightOwl", "password": PASSWORD})
    assert login.status_code == 200  # the form again: no such account


def test_a_guest_deletes_itself_by_typing_its_handle_exactly(client, db, postgres):
    guest = create_guest()
    client.force_login(guest)
    refused = client.post("/account/delete/", {"confirm_handle": guest.username.lower()})
    assert refused.status_code == 200
    assert f"Type {guest.username} exactly" in refused.content.decode()
    assert User.objects.filter(pk=guest.pk).exists()

    assert client.post("/account/delete/", {"confirm_handle": guest.username}).status_code == 302
    assert not User.objects.filter(pk=guest.pk).exists()


def kept_copy(owner: User, conversation: Conversation, partner: str) -> KeptConversation:
    return KeptConversation.objects.create(owner=owner, conversation=conversation.id,
                                           partner_handle=partner, started_at=timezone.now())


def test_deletion_erases_history_exports_and_blocks_but_not_the_partners_own_things(
        owl_client, night_owl):
    stranger = User.objects.create_user("QuietOtter42", password=PASSWORD, keeps_history=True)
    other = User.objects.create_user("BraveFox07", password=PASSWORD)
    talk = Conversation.objects.create(user_a=night_owl, user_b=stranger)
    kept_copy(night_owl, talk, "QuietOtter42")
    partners_copy = kept_copy(stranger, talk, "NightOwl")
    HistoryExport.objects.create(owner=night_owl, expires_at=timezone.now() + timedelta(days=1))
    Block.objects.create(blocker=night_owl, blocked=stranger)
    others_block = Block.objects.create(blocker=stranger, blocked=other)

    owl_client.post("/account/delete/", {"password": PASSWORD})

    assert not KeptConversation.objects.filter(owner_id=night_owl.pk).exists()
    assert not HistoryExport.objects.filter(owner_id=night_owl.pk).exists()
    assert not Block.objects.filter(blocker_id=night_owl.pk).exists()
    assert KeptConversation.objects.filter(pk=partners_copy.pk).exists()
    assert Block.objects.filter(pk=others_block.pk).exists()
    talk.refresh_from_db()
    assert talk.user_a_id is None and talk.user_b_id == stranger.pk


def test_reports_and_decisions_involving_the_account_stay_under_a_pseudonym(
        owl_client, night_owl):
    stranger = User.objects.create_user("QuietOtter42", password=PASSWORD)
    talk = Conversation.objects.create(user_a=night_owl, user_b=stranger)
    about_owl = Report.objects.create(
        reporter=stranger, reported=night_owl, conversation=talk, reason="harassment",
        evidence=[{"from": "NightOwl", "text": "go away", "ts": "2026-11-25T10:00:00Z"},
                  {"from": "QuietOtter42", "text": "hi", "ts": "2026-11-25T10:00:01Z"}])
    by_owl = Report.objects.create(reporter=night_owl, reported=stranger, conversation=talk,
                                   reason="spam")
    decision = Decision.objects.create(action="warn", reason="rude", subject=night_owl)
    assert decision.subject_handle == "NightOwl"

    owl_client.post("/account/delete/", {"password": PASSWORD})

    pseudonym = pseudonym_for(night_owl.pk)
    assert pseudonym.startswith("deleted-") and "NightOwl" not in pseudonym
    about_owl.refresh_from_db()
    assert about_owl.reported_id is None
    assert [line["from"] for line in about_owl.evidence] == [pseudonym, "QuietOtter42"]
    by_owl.refresh_from_db()
    assert by_owl.reporter_id is None and by_owl.reported_id == stranger.pk
    decision = Decision.objects.get(pk=decision.pk)
    assert decision.subject_id is None
    assert decision.subject_handle == pseudonym


def test_the_same_account_always_gets_the_same_pseudonym_and_others_another():
    assert pseudonym_for(7) == pseudonym_for(7)
    assert pseudonym_for(7) != pseudonym_for(8)


def test_deleting_an_account_twice_is_harmless(night_owl):
    assert delete_account(night_owl.pk) is True
    assert delete_account(night_owl.pk) is False


@pytest.fixture(params=["embedded", "redis"])
def live_backend(request) -> str:  # noqa: ANN001 - pytest's request
    """The socket registry and channel layer in this process, or in Redis as in deployment."""
    if request.param == "redis":
        request.getfixturevalue("redis_live")
    return request.param


@pytest.mark.django_db(transaction=True)
async def test_deletion_tells_the_users_live_socket_to_close(postgres, live_backend):
    user = await database_sync_to_async(User.objects.create_user)("NightOwl", password=PASSWORD)
    layer = get_channel_layer()
    socket_channel = await layer.new_channel()
    await get_store().claim_socket(user.pk, socket_channel)

    await database_sync_to_async(delete_account)(user.pk)

    event = await asyncio.wait_for(layer.receive(socket_channel), timeout=5)
    assert event == {"type": "chat.account_closed"}


def test_a_deleted_handle_may_be_taken_by_someone_new(night_owl):
    delete_account(night_owl.pk)
    assert User.objects.create_user("NightOwl", password=str(uuid.uuid4())).pk != night_owl.pk


def test_reports_about_a_deleted_user_keep_a_pseudonym_in_place_of_the_handle(db, postgres):
    from moderation.reports import file_report

    rude = User.objects.create_user("RudeRaven", password="x-pass-123456")
    kind = User.objects.create_user("KindKoala", password="x-pass-123456")
    conversation = Conversation.objects.create(user_a=rude, user_b=kind)
    report = file_report(kind.pk, rude.pk, str(conversation.pk), "harassment", "",
                         [{"from": "RudeRaven", "text": "go away", "ts": "2026-01-01T00:00:00Z"}])
    assert (report.reporter_handle, report.reported_handle) == ("KindKoala", "RudeRaven")

    delete_account(rude.pk)

    report = Report.objects.get(pk=report.pk)
    assert report.reported_id is None
    assert report.reported_name.startswith("deleted-")
    assert report.evidence[0]["from"] == report.reported_name
    assert report.reporter_name == "KindKoala"
