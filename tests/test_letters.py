"""Letters to a contact (protocol section 5): filtered like a chat line, rate-limited, encrypted
at rest, delivered live across processes, kept until the contact ends or retention passes."""
from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
import requests
from chatclient import Socket
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.models import User
from chat.contacts import tasks
from chat.contacts.models import Letter
from chatsite.plumbing.crypto import encrypt_text
from tests.keeping import contacts, full_user, session_of

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

JSON = {"HTTP_ACCEPT": "application/json"}


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def raw_bodies() -> list[bytes]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT body FROM contacts_letter")
        return [bytes(row[0]) for row in cursor.fetchall()]


@pytest.mark.django_db
def test_a_letter_is_stored_encrypted_and_both_sides_read_it(postgres: None,
                                                             redis_live: str) -> None:
    writer, reader = full_user(), full_user()
    contact_id = contacts(writer, reader)
    text = "Hola! Tomorrow 18:00 UTC for Spanish practice? 🌞"
    response = client_for(writer).post(f"/contacts/{contact_id}/letters/", {"text": text},
                                       **JSON)
    assert response.status_code == 201
    sent = response.json()["letter"]
    assert sent["from"] == "me" and sent["text"] == text and sent["filtered"] is False
    (body,) = raw_bodies()
    assert text.encode() not in body and b"Spanish" not in body and b"Tomorrow" not in body
    seen = client_for(reader).get(f"/contacts/{contact_id}/", **JSON).json()["letters"]
    assert seen == [{**sent, "from": "partner"}]


@pytest.mark.django_db
def test_a_letter_is_filtered_like_a_chat_line(postgres: None, redis_live: str) -> None:
    writer, reader = full_user(), full_user()
    contact_id = contacts(writer, reader)
    client_for(writer).post(f"/contacts/{contact_id}/letters/",
                            {"text": "call me on 555 123 4567 ok"})
    (seen,) = client_for(reader).get(f"/contacts/{contact_id}/", **JSON).json()["letters"]
    assert seen["filtered"] is True and "4567" not in seen["text"]
    assert seen["text"].startswith("call me on ") and seen["text"].endswith(" ok")
    assert b"4567" not in raw_bodies()[0]


@pytest.mark.django_db
@pytest.mark.parametrize("fields", [{}, {"text": ""}, {"text": "   \n"}, {"text": "x" * 2001}])
def test_a_bad_letter_is_refused_and_stores_nothing(postgres: None, redis_live: str,
                                                    fields: dict[str, str]) -> None:
    writer, reader = full_user(), full_user()
    contact_id = contacts(writer, reader)
    response = client_for(writer).post(f"/contacts/{contact_id}/letters/", fields, **JSON)
    assert response.status_code == 400
    assert response.json()["error"] in {"bad_frame", "too_long"}
    assert not Letter.objects.exists()
    # The page form shows the reason instead of a bare error.
    page = client_for(writer).post(f"/contacts/{contact_id}/letters/", fields, follow=True)
    assert page.status_code == 200 and b"letter" in page.content


@pytest.mark.django_db
def test_letters_are_rate_limited_per_writer(postgres: None, redis_live: str,
                                             settings) -> None:  # noqa: ANN001
    settings.LETTER_RATE_LIMIT = "2/h"
    writer, reader, other = full_user(), full_user(), full_user()
    to_reader, to_other = contacts(writer, reader), contacts(writer, other)
    client = client_for(writer)
    for text in ("one", "two"):
        assert client.post(f"/contacts/{to_reader}/letters/", {"text": text}).status_code == 302
    refused = client.post(f"/contacts/{to_other}/letters/", {"text": "three"}, **JSON)
    assert refused.status_code == 429 and refused.json()["error"] == "rate_limited"
    assert 1 <= int(refused["Retry-After"]) <= 3600
    assert Letter.objects.count() == 2
    # The limit is the writer's: the reader may still answer.
    assert client_for(reader).post(f"/contacts/{to_reader}/letters/",
                                   {"text": "hi"}).status_code == 302


@pytest.mark.django_db
def test_letters_older_than_the_retention_are_purged(postgres: None, redis_live: str,
                                                     settings) -> None:  # noqa: ANN001
    settings.LETTER_RETENTION_DAYS = 30
    a, b = full_user(), full_user()
    contact_id = contacts(a, b)
    old = Letter.objects.create(contact_id=contact_id, sender=a, body=encrypt_text("old"))
    Letter.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=31))
    recent = Letter.objects.create(contact_id=contact_id, sender=b, body=encrypt_text("new"))
    assert tasks.purge_old_letters.delay().get() == 1
    assert list(Letter.objects.values_list("pk", flat=True)) == [recent.pk]


def post_letter(base: str, session: str, contact_id: str, text: str) -> requests.Response:
    token = secrets.token_hex(16)
    return requests.post(f"{base}/contacts/{contact_id}/letters/", data={"text": text},
                         cookies={"sessionid": session, "csrftoken": token},
                         headers={"X-CSRFToken": token, "Accept": "application/json"},
                         timeout=10)


def test_a_letter_reaches_the_contact_live_on_another_process_and_waits_when_away(
        start_server, redis_url: str) -> None:  # noqa: ANN001 - the conftest fixture
    one, two = start_server(redis_url), start_server(redis_url)
    writer, reader = full_user("Writer"), full_user("Reader")
    contact_id = contacts(writer, reader)
    writer_session, reader_session = session_of(writer), session_of(reader)
    socket = Socket(two.url, reader_session)
    socket.expect("welcome")
    try:
        response = post_letter(one.url, writer_session, contact_id, "written on process one")
        assert response.status_code == 201, response.text
        frame = socket.expect("letter")
        assert frame == {"type": "letter", "contact": contact_id,
                         "letter": {**response.json()["letter"], "from": "partner"}}
    finally:
        socket.close()
    # Away: the letter waits, unread, for the reader's return.
    assert post_letter(one.url, writer_session, contact_id, "while you were away"
                       ).status_code == 201
    listed = requests.get(f"{two.url}/contacts/?format=json",
                          cookies={"sessionid": reader_session}, timeout=10).json()
    assert listed["contacts"][0]["unread"] == 2
    letters = requests.get(f"{two.url}/contacts/{contact_id}/?format=json",
                           cookies={"sessionid": reader_session}, timeout=10).json()["letters"]
    assert [letter["text"] for letter in letters] == ["written on process one",
                                                      "while you were away"]
    listed = requests.get(f"{one.url}/contacts/?format=json",
                          cookies={"sessionid": reader_session}, timeout=10).json()
    assert listed["contacts"][0]["unread"] == 0
