"""Presence and the contact events on the live socket (PROTOCOL.md section 5).

A contact who shares presence is seen coming and going, by contacts only, nobody else ever;
a removed contact and a letter reach the other side's socket at once, also when it is on
another server process.
"""
from __future__ import annotations

import http.cookiejar
import urllib.parse
import urllib.request

import pytest
from channels.db import database_sync_to_async
from chatclient import Socket
from chatsockets import close_all, connect

from chat.contacts import services
from tests.keeping import backend, contacts, full_user, session_of  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.usefixtures("backend")
async def test_only_contacts_see_a_sharing_contact_come_and_go() -> None:
    make = database_sync_to_async(full_user)
    ann, ben, cat, dan = await make("Ann"), await make("Ben"), await make("Cat"), await make("Dan")
    await database_sync_to_async(type(cat).objects.filter(pk=cat.pk).update)(
        shares_presence=False)
    ann_ben = await database_sync_to_async(contacts)(ann, ben)
    await database_sync_to_async(contacts)(ann, cat)
    a, d = await connect(ann), await connect(dan)  # dan is nobody's contact
    b = await connect(ben)
    assert await a.expect("contact_presence") == {"type": "contact_presence",
                                                  "contact": ann_ben, "online": True}
    # Cat does not share presence: her coming and going is never told.
    c = await connect(await database_sync_to_async(type(cat).objects.get)(pk=cat.pk))
    assert await a.silent(0.4)
    await c.close()
    assert await a.silent(0.4)
    # A second socket of Ben's replaces the first: he never went.
    b2 = await connect(ben)
    assert (await b.recv())["code"] == "replaced"
    assert (await a.expect("contact_presence"))["online"] is True
    assert await a.silent(0.4)
    await b2.close()
    assert await a.expect("contact_presence") == {"type": "contact_presence",
                                                  "contact": ann_ben, "online": False}
    # Ben learns of Ann (who shares presence), Dan of nobody.
    b3 = await connect(ben)
    await a.expect("contact_presence")
    await a.close()
    assert (await b3.expect("contact_presence"))["online"] is False
    assert await d.silent(0.3)
    await close_all(b3, d)


@pytest.mark.usefixtures("backend")
async def test_removal_and_letters_reach_the_live_socket() -> None:
    ann = await database_sync_to_async(full_user)("Ann")
    ben = await database_sync_to_async(full_user)("Ben")
    contact = await database_sync_to_async(contacts)(ann, ben)
    a, b = await connect(ann), await connect(ben)
    await a.expect("contact_presence")
    await database_sync_to_async(services.write_letter)(ann.pk, contact, "a letter for you")
    got = await b.expect("letter")
    assert got["contact"] == contact
    assert (got["letter"]["from"], got["letter"]["text"]) == ("partner", "a letter for you")
    await database_sync_to_async(services.remove)(ben.pk, contact)
    removed = {"type": "contact_removed", "contact": contact}
    assert await a.expect("contact_removed") == removed
    assert await b.expect("contact_removed") == removed
    # Gone means gone: no invitation either.
    await a.send({"type": "invite", "contact": contact})
    assert (await a.error())["code"] == "not_a_contact"
    await close_all(a, b)


def post_form(base: str, session: str, path: str, fields: dict[str, str]) -> int:
    """POST a form as the logged-in user (CSRF token from a page first)."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    host = urllib.parse.urlparse(base).hostname
    jar.set_cookie(http.cookiejar.Cookie(
        0, "sessionid", session, None, False, host, False, False, "/", True, False, None,
        True, None, None, {}))
    opener.open(base + "/contacts/", timeout=10).read()
    token = next(c.value for c in jar if c.name == "csrftoken")
    body = urllib.parse.urlencode({"csrfmiddlewaretoken": token, **fields}).encode()
    request = urllib.request.Request(base + path, data=body, headers={"Referer": base + "/"})
    with opener.open(request, timeout=10) as response:
        return response.status


@pytest.mark.e2e
def test_presence_letters_and_removal_across_processes(start_server, redis_url) -> None:
    one, two = start_server(redis_url=redis_url), start_server(redis_url=redis_url)
    ann, ben = full_user("Ann"), full_user("Ben")
    contact = contacts(ann, ben)
    session_a = session_of(ann)
    a = Socket(one.url, session_a)
    a.expect("welcome")
    b = Socket(two.url, session_of(ben))
    b.expect("welcome")
    assert a.expect("contact_presence") == {"type": "contact_presence", "contact": contact,
                                            "online": True}
    # A letter written over HTTP on process one reaches Ben's socket on process two.
    assert post_form(one.url, session_a, f"/contacts/{contact}/letters/",
                     {"text": "written on one"}) == 200
    letter = b.expect("letter")
    assert (letter["contact"], letter["letter"]["text"]) == (contact, "written on one")
    b.close()
    assert a.expect("contact_presence")["online"] is False
    b = Socket(two.url, session_of(ben))
    b.expect("welcome")
    assert a.expect("contact_presence")["online"] is True
    assert post_form(one.url, session_a, f"/contacts/{contact}/remove/", {}) == 200
    removed = {"type": "contact_removed", "contact": contact}
    assert b.expect("contact_removed") == removed
    assert a.expect("contact_removed") == removed
