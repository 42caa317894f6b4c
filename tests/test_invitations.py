"""Invitations to talk now (PROTOCOL.md section 5): invite, accept, decline, withdraw,
expiry, the errors, the rate limit; an accepted invitation is a conversation like any other.

Through ChatConsumer on the embedded default and on the real Redis, then end to end across
two daphne processes sharing Redis: invite, accept, talk, resume on the other process, block.
"""
from __future__ import annotations

import uuid

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from chatclient import Socket
from chatsockets import Client, close_all, connect, find, pair_clients

from chat.contacts.models import Contact
from chat.models import Conversation
from chat.store import get_store
from conftest import resume_on
from tests.keeping import backend, contacts, full_user, session_of  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db(transaction=True)


async def friends() -> tuple[Client, Client, str]:
    ann = await database_sync_to_async(full_user)("Ann")
    ben = await database_sync_to_async(full_user)("Ben")
    contact = await database_sync_to_async(contacts)(ann, ben)
    a, b = await connect(ann), await connect(ben)
    assert (await a.expect("contact_presence"))["online"] is True  # b came
    return a, b, contact


async def invite(a: Client, b: Client, contact: str, mode: str = "text") -> str:
    await a.send({"type": "invite", "contact": contact, "mode": mode})
    invitation = (await a.expect("inviting"))["invitation"]
    assert await b.expect("invited") == {"type": "invited", "invitation": invitation,
                                         "contact": contact, "handle": a.handle,
                                         "mode": mode}
    return invitation


@pytest.mark.usefixtures("backend")
async def test_an_accepted_invitation_is_a_conversation() -> None:
    a, b, contact = await friends()
    invitation = await invite(a, b, contact)
    await b.send({"type": "accept", "invitation": invitation})
    matched_b = await b.expect("matched")
    matched_a = await a.expect("matched")
    assert matched_a["conversation"] == matched_b["conversation"]
    for matched, partner in ((matched_a, b), (matched_b, a)):
        assert matched["direct"] is True
        assert matched["partner"] == {"handle": partner.handle, "keeps_history": False,
                                      "contact": contact}
        assert matched["mode"] == "text" and matched["ice_servers"] == []
    assert (matched_a["initiator"], matched_b["initiator"]) == (True, False)
    await a.send({"type": "message", "text": "hello again"})
    assert (await a.expect("message"))["from"] == "me"
    assert (await b.expect("message"))["text"] == "hello again"
    await b.send({"type": "leave"})
    await b.expect("ended")
    assert (await a.expect("partner_left"))["reason"] == "left"
    record = await database_sync_to_async(Conversation.objects.get)(
        pk=matched_a["conversation"])
    assert {record.user_a_id, record.user_b_id} == {a.user.pk, b.user.pk}
    assert record.end_reason == "left"
    await close_all(a, b)


@pytest.mark.usefixtures("backend")
async def test_matched_from_search_is_not_direct() -> None:
    a, b, _ = await friends()
    matched_a, _ = await pair_clients(a, b)
    assert matched_a["direct"] is False and "contact" not in matched_a["partner"]
    await close_all(a, b)


@pytest.mark.usefixtures("backend")
async def test_decline_tells_the_inviter() -> None:
    a, b, contact = await friends()
    invitation = await invite(a, b, contact)
    await b.send({"type": "decline", "invitation": invitation})
    assert await a.expect("invite_declined") == {"type": "invite_declined",
                                                 "invitation": invitation}
    await b.send({"type": "accept", "invitation": invitation})
    assert (await b.error())["code"] == "invitation_gone"
    await close_all(a, b)


@pytest.mark.usefixtures("backend")
async def test_the_inviter_withdraws() -> None:
    a, b, contact = await friends()
    invitation = await invite(a, b, contact)
    await a.send({"type": "cancel_invite", "invitation": invitation})
    cancelled = {"type": "invite_cancelled", "invitation": invitation}
    assert await b.expect("invite_cancelled") == cancelled
    assert await a.expect("invite_cancelled") == cancelled
    await b.send({"type": "accept", "invitation": invitation})
    assert (await b.error())["code"] == "invitation_gone"
    # Only the inviter may withdraw.
    again = await invite(a, b, contact)
    await b.send({"type": "cancel_invite", "invitation": again})
    assert (await b.error())["code"] == "invitation_gone"
    await close_all(a, b)


@pytest.mark.usefixtures("backend")
async def test_an_unanswered_invitation_expires_for_both(settings) -> None:
    settings.INVITE_TIMEOUT_SECONDS = 1
    a, b, contact = await friends()
    invitation = await invite(a, b, contact)
    expired = {"type": "invite_expired", "invitation": invitation}
    assert await a.expect("invite_expired", 5) == expired
    assert await b.expect("invite_expired", 5) == expired
    assert await a.silent(1.2) and await b.silent(0.1)  # once each, not once per timer
    await b.send({"type": "accept", "invitation": invitation})
    assert (await b.error())["code"] == "invitation_gone"
    await close_all(a, b)


@pytest.mark.usefixtures("backend")
async def test_accept_stops_a_search_and_is_refused_in_a_conversation() -> None:
    a, b, contact = await friends()
    c = await connect(await database_sync_to_async(full_user)("Cid"))
    invitation = await invite(a, b, contact)
    await find(b)
    await b.send({"type": "accept", "invitation": invitation})
    assert (await b.expect("matched"))["direct"] is True
    await a.expect("matched")
    await find(c)  # b left the queue: c waits alone
    assert await c.silent(0.5)
    d = await connect(await database_sync_to_async(full_user)("Dee"))
    e = await connect(await database_sync_to_async(full_user)("Eve"))
    d_e = await database_sync_to_async(contacts)(d.user, e.user)
    second = await invite(d, e, d_e)
    await find(e)  # e meets c before answering
    await e.expect("matched")
    await c.expect("matched")
    await e.send({"type": "accept", "invitation": second})
    assert (await e.error())["code"] == "already_searching"
    await close_all(a, b, c, d, e)


@pytest.mark.usefixtures("backend")
async def test_errors_change_nothing() -> None:
    a, b, contact = await friends()
    stranger = await connect(await database_sync_to_async(full_user)("Sam"))
    for frame, code in (
        ({"type": "invite", "contact": str(uuid.uuid4())}, "not_a_contact"),
        ({"type": "invite", "contact": "not-an-id"}, "not_a_contact"),
        ({"type": "invite"}, "bad_frame"),
        ({"type": "invite", "contact": contact, "mode": "smoke"}, "bad_frame"),
        ({"type": "accept"}, "bad_frame"),
        ({"type": "accept", "invitation": str(uuid.uuid4())}, "invitation_gone"),
        ({"type": "decline", "invitation": 7}, "bad_frame"),
    ):
        await a.send(frame)
        assert (await a.error())["code"] == code, frame
    # Someone else's contact is not a contact.
    await stranger.send({"type": "invite", "contact": contact})
    assert (await stranger.error())["code"] == "not_a_contact"
    assert await b.silent(0.3)
    # Offline and busy.
    await b.close()
    assert (await a.expect("contact_presence"))["online"] is False
    await a.send({"type": "invite", "contact": contact})
    assert (await a.error())["code"] == "contact_offline"
    b = await connect(b.user)
    assert (await a.expect("contact_presence"))["online"] is True
    c = await connect(await database_sync_to_async(full_user)("Cid"))
    await pair_clients(b, c)
    await a.send({"type": "invite", "contact": contact})
    assert (await a.error())["code"] == "contact_busy"
    assert await b.silent(0.3)
    await close_all(a, b, c, stranger)


@pytest.mark.usefixtures("backend")
async def test_invitations_are_rate_limited(settings) -> None:
    settings.INVITE_RATE_LIMIT = "2/m"
    a, b, contact = await friends()
    first = await invite(a, b, contact)
    await a.send({"type": "invite", "contact": contact, "mode": "text"})
    await a.expect("inviting")
    # One invitation at a time: the second replaces the first.
    assert (await b.expect("invite_cancelled"))["invitation"] == first
    await b.expect("invited")
    await a.send({"type": "invite", "contact": contact})
    error = await a.error()
    assert error["code"] == "rate_limited" and error["retry_after"] > 0
    assert await b.silent(0.3)
    await close_all(a, b)


@pytest.mark.usefixtures("backend")
async def test_a_pending_invitation_is_offered_again_on_reconnect() -> None:
    a, b, contact = await friends()
    invitation = await invite(a, b, contact)
    await b.close()
    b = await connect(b.user)
    assert (await b.expect("invited"))["invitation"] == invitation
    await b.send({"type": "accept", "invitation": invitation})
    assert (await b.expect("matched"))["partner"]["contact"] == contact
    await close_all(a, b)


@pytest.mark.usefixtures("backend")
async def test_an_invitation_made_while_the_socket_connects_is_offered_once() -> None:
    """The invitation's event reaches a socket whose own reading of what waits for it (just
    after `welcome`) already found it: the invited user hears of it once."""
    a, b, contact = await friends()
    invitation = await invite(a, b, contact)
    await b.close()
    b = await connect(b.user)
    frame = await b.expect("invited")  # from what waits for it
    channel = await get_store().socket_of(b.user.id)
    event = {"type": "contacts.invited", "frame": frame, "expires_in": 60}
    await get_channel_layer().send(channel, event)
    assert frame["invitation"] == invitation and await b.silent(0.5)
    # ... and when the event comes after the user has already declined.
    await b.send({"type": "decline", "invitation": invitation})
    declined = await a.expect("invite_declined", skip=("typing", "contact_presence"))
    assert declined["invitation"] == invitation
    await get_channel_layer().send(channel, event)
    assert await b.silent(0.5)
    await close_all(a, b)


@pytest.mark.usefixtures("backend")
async def test_accepting_after_the_inviter_went_or_met_someone() -> None:
    a, b, contact = await friends()
    invitation = await invite(a, b, contact)
    await a.close()  # the inviter closed the tab
    assert (await b.expect("contact_presence"))["online"] is False
    await b.send({"type": "accept", "invitation": invitation})
    assert (await b.error())["code"] == "contact_offline"
    a = await connect(a.user)
    assert (await b.expect("contact_presence"))["online"] is True
    c = await connect(await database_sync_to_async(full_user)("Cid"))
    second = await invite(a, b, contact)
    await pair_clients(a, c)  # the inviter meets a stranger meanwhile
    await b.send({"type": "accept", "invitation": second})
    assert (await b.error())["code"] == "contact_busy"
    assert await a.expect("invite_expired") == {"type": "invite_expired",
                                                "invitation": second}
    await close_all(a, b, c)


# ---- across two server processes

SKIP = ("typing", "pong", "searching", "contact_presence")


@pytest.mark.e2e
def test_invite_accept_talk_resume_block_across_processes(start_server, redis_url) -> None:
    one, two = start_server(redis_url=redis_url), start_server(redis_url=redis_url)
    ann, ben = full_user("Ann"), full_user("Ben")
    contact = contacts(ann, ben)
    session_b = session_of(ben)
    a, b = Socket(one.url, session_of(ann)), Socket(two.url, session_b)
    a.expect("welcome", 10, SKIP)
    b.expect("welcome", 10, SKIP)
    a.send({"type": "invite", "contact": contact, "mode": "video"})
    invitation = a.expect("inviting", 10, SKIP)["invitation"]
    invited = b.expect("invited", 10, SKIP)
    assert (invited["invitation"], invited["mode"]) == (invitation, "video")
    # A second invitation, declined, across the processes too.
    b.send({"type": "decline", "invitation": invitation})
    assert a.expect("invite_declined", 10, SKIP)["invitation"] == invitation
    a.send({"type": "invite", "contact": contact, "mode": "video"})
    invitation = a.expect("inviting", 10, SKIP)["invitation"]
    assert b.expect("invited", 10, SKIP)["invitation"] == invitation
    b.send({"type": "accept", "invitation": invitation})
    matched_b = b.expect("matched", 10, SKIP)
    matched_a = a.expect("matched", 10, SKIP)
    conversation = matched_a["conversation"]
    assert matched_b["conversation"] == conversation
    assert matched_a["direct"] and matched_a["partner"]["contact"] == contact
    assert matched_a["mode"] == "video"
    a.send({"type": "message", "text": "across"})
    last = a.expect("message", 10, SKIP)["id"]
    assert b.expect("message", 10, SKIP)["text"] == "across"
    # b drops and comes back on the other process; the conversation is still direct.
    b.sock.close()
    a.expect("partner_reconnecting", 10, SKIP)
    a.send({"type": "message", "text": "while you were away"})
    a.expect("message", 10, SKIP)
    b2, resumed = resume_on(one.url, session_b, conversation, last)
    assert [m["text"] for m in resumed["missed"]] == ["while you were away"]
    assert resumed["partner"]["contact"] == contact and resumed["direct"] is True
    a.expect("partner_back", 10, SKIP)
    # A block in the direct conversation ends it and removes the contact for both.
    b2.send({"type": "block"})
    removed = {"type": "contact_removed", "contact": contact}
    assert a.expect("contact_removed", 10,
                    (*SKIP, "partner_left")) == removed
    assert b2.expect("contact_removed", 10, (*SKIP, "ended", "blocked")) == removed
    assert not Contact.objects.exists()
