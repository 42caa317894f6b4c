"""The record of keeping in touch: the export's `contacts` and `letters` (section 4, version 2)
in every format, and contacts ending for good when an account is deleted or banned, or a
contact removed: the other side's live socket hears `contact_removed` at once."""
from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import timedelta

import pytest
from chatclient import Socket
from django.test import Client
from django.utils import timezone

from accounts.deletion import delete_account
from accounts.models import User
from chat.contacts.models import Contact, Letter
from chat.contacts.services import write_letter
from chat.history import export, iso_utc
from moderation.bans import issue_ban
from tests.keeping import contacts, full_user, session_of

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

SKIP = ("typing", "pong", "searching", "contact_presence")


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def pen_pals(postgres: None, redis_live: str, db: None) -> tuple[User, User, str]:
    me, pal = full_user("Me"), full_user("Pal")
    contact_id = contacts(me, pal)
    write_letter(me.pk, contact_id, "=1+1 is two, <b>right</b>?")
    write_letter(pal.pk, contact_id, "Yes! Ciao 👋")
    return me, pal, contact_id


def test_json_export_round_trips_contacts_and_letters(pen_pals: tuple[User, User, str]) -> None:
    me, pal, contact_id = pen_pals
    stranger = full_user("Other")
    contacts(pal, stranger)  # the pal's other contact is not in my record
    document = client_for(me).get("/account/export/?format=json").json()
    assert document["format"] == "chat-record" and document["version"] == 2
    since = Contact.objects.get(pk=contact_id).created_at
    assert document["contacts"] == [{"handle": pal.username, "since": iso_utc(since)}]
    assert [(entry["contact"], entry["from"], entry["text"]) for entry in document["letters"]] \
        == [(pal.username, "me", "=1+1 is two, <b>right</b>?"),
            (pal.username, "partner", "Yes! Ciao 👋")]
    # The letters in the record are the ones the thread shows, field for field.
    thread = client_for(me).get(f"/contacts/{contact_id}/?format=json").json()["letters"]
    assert [(entry["from"], entry["text"], entry["ts"]) for entry in document["letters"]] == \
        [(letter["from"], letter["text"], letter["ts"]) for letter in thread]
    theirs = client_for(pal).get("/account/export/?format=json").json()
    assert [entry["from"] for entry in theirs["letters"]] == ["partner", "me"]


def test_html_csv_and_zip_exports_carry_contacts_and_letters(
        pen_pals: tuple[User, User, str]) -> None:
    me, pal, _ = pen_pals
    client = client_for(me)
    page = client.get("/account/export/?format=html").content.decode()
    assert "Contacts (1)" in page and "Letters (2)" in page and pal.username in page
    assert "&lt;b&gt;right&lt;/b&gt;" in page and "<b>right</b>" not in page
    rows = list(csv.DictReader(io.StringIO(
        client.get("/account/export/?format=csv").content.decode())))
    letters = [row for row in rows if row["kind"] == "letter"]
    assert [(row["partner"], row["from"], row["text"]) for row in letters] == [
        (pal.username, "me", "'=1+1 is two, <b>right</b>?"),  # no formula in a spreadsheet
        (pal.username, "partner", "Yes! Ciao 👋")]
    archive = zipfile.ZipFile(io.BytesIO(export.build_zip(export.export_document(me.pk))))
    (json_name,) = [name for name in archive.namelist() if name.endswith(".json")]
    assert len(json.loads(archive.read(json_name))["letters"]) == 2


@pytest.fixture
def live_contact(start_server, redis_live: str):  # noqa: ANN001, ANN201 - conftest fixture
    """Three full accounts: `me` on a live socket of a daphne process, with two contacts."""
    server = start_server(redis_live)
    me, pal, other = full_user("Me"), full_user("Pal"), full_user("Other")
    with_pal, with_other = contacts(me, pal), contacts(pal, other)
    write_letter(pal.pk, with_pal, "see you")
    socket = Socket(server.url, session_of(me))
    socket.expect("welcome")
    yield server, socket, me, pal, other, with_pal, with_other
    socket.close()


def test_deleting_an_account_removes_its_contacts_and_letters_and_tells_the_other_side(
        live_contact) -> None:  # noqa: ANN001
    server, socket, me, pal, other, with_pal, with_other = live_contact
    assert delete_account(pal.pk)
    assert socket.expect("contact_removed", skip=SKIP) == {"type": "contact_removed",
                                                           "contact": with_pal}
    assert not Contact.objects.exists() and not Letter.objects.exists()
    assert client_for(me).get(f"/contacts/{with_pal}/").status_code == 404
    assert client_for(other).get("/contacts/?format=json").json() == {"contacts": []}


def test_a_ban_removes_the_banned_user_from_everyones_contacts(live_contact) -> None:  # noqa: ANN001
    server, socket, me, pal, other, with_pal, with_other = live_contact
    contacts(me, other)  # a contact between two people in good standing stays
    issue_ban(pal.pk, "scam", until=timezone.now() + timedelta(days=7))
    assert socket.expect("contact_removed", skip=SKIP)["contact"] == with_pal
    assert list(Contact.objects.values_list("user_low_id", "user_high_id")) == [
        tuple(sorted((me.pk, other.pk)))]
    assert not Letter.objects.exists()
    assert [entry["handle"] for entry in client_for(me).get(
        "/contacts/?format=json").json()["contacts"]] == [other.username]


def test_removing_a_contact_tells_the_other_side_at_once_without_a_reason(
        live_contact) -> None:  # noqa: ANN001
    server, socket, me, pal, other, with_pal, with_other = live_contact
    assert client_for(pal).post(f"/contacts/{with_pal}/remove/").status_code == 302
    assert socket.expect("contact_removed", skip=SKIP) == {"type": "contact_removed",
                                                           "contact": with_pal}
    assert client_for(me).get(f"/contacts/{with_pal}/").status_code == 404
