"""The rules gate on `find` and the `media_state` extension frame (docs/protocol-extensions.md)."""
from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from chatsockets import close_all, connect, pair
from django.test import Client as HttpClient

from accounts.models import User

pytestmark = pytest.mark.django_db(transaction=True)


async def test_find_is_refused_until_the_rules_are_accepted() -> None:
    user = await database_sync_to_async(User.objects.create)(username="NewPerson1")
    client = await connect(user)
    await client.send({"type": "find", "mode": "text"})
    error = await client.error()
    assert error["code"] == "rules_required"
    assert await client.silent()  # not queued: nothing else happens

    http = HttpClient()
    await database_sync_to_async(http.force_login)(user)
    response = await database_sync_to_async(http.post)("/rules/accept/")
    assert response.status_code == 302
    await database_sync_to_async(user.refresh_from_db)()
    assert user.rules_accepted_at is not None and user.adult_confirmed_at is not None

    await client.send({"type": "find", "mode": "text"})
    assert (await client.recv())["type"] == "searching"
    await close_all(client)


def test_the_guest_button_records_the_acceptance_and_keeps_a_signed_in_account() -> None:
    http = HttpClient()
    http.get("/")
    assert http.post("/accounts/guest/").status_code == 302
    guest = User.objects.get(pk=http.session["_auth_user_id"])
    assert guest.is_guest and guest.rules_accepted_at and guest.adult_confirmed_at

    member = User.objects.create_user(username="Member1", password="a-long-pass-123")
    http.force_login(member)
    response = http.post("/accounts/guest/")
    assert response.status_code == 302 and response["Location"] == "/?switch=1"
    assert http.session["_auth_user_id"] == str(member.pk)  # still signed in
    page = http.get("/?switch=1").content.decode()
    assert "Continue as" in page and "You will be logged out of" in page
    http.post("/accounts/guest/", {"switch": "yes"})
    assert http.session["_auth_user_id"] != str(member.pk)


async def test_media_state_reaches_the_partner_in_a_call_only() -> None:
    a, b, _, _ = await pair(mode="video")
    await a.send({"type": "media_state", "audio": False, "video": True})
    assert await b.expect("media_state") == {"type": "media_state", "audio": False,
                                             "video": True}
    await a.send({"type": "media_state", "audio": "no", "video": True})
    assert (await a.error())["code"] == "bad_frame"
    assert await b.silent()
    await close_all(a, b)

    c, d, _, _ = await pair(mode="text")
    await c.send({"type": "media_state", "audio": True, "video": False})
    assert (await c.error())["code"] == "bad_frame"
    assert await d.silent()
    await close_all(c, d)
