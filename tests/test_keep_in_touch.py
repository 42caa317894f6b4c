"""Consent to keep in touch (PROTOCOL.md section 5, "Consent, on the socket").

Through ChatConsumer on the embedded default and on the real Redis, then across two daphne
processes: both ways makes one contact (the same id on both sides), one way makes nothing
and tells the asker nothing, guests are refused until they claim, a block or a report
cancels, and the window closes when either is matched again.
"""
from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from chatclient import Socket
from chatsockets import Client, close_all, connect, pair_clients

from accounts.guests import claim_guest, create_guest
from accounts.models import User
from chat.contacts.models import Contact, ContactRequest
from tests.keeping import backend, full_user, session_of  # noqa: F401 - `backend`: a fixture

pytestmark = pytest.mark.django_db(transaction=True)


async def two_full() -> tuple[Client, Client]:
    a = await connect(await database_sync_to_async(full_user)("Ann"))
    b = await connect(await database_sync_to_async(full_user)("Ben"))
    return a, b


@database_sync_to_async
def contact_ids() -> list[str]:
    return [str(pk) for pk in Contact.objects.values_list("pk", flat=True)]


async def leaves(a: Client, b: Client) -> None:
    """`a` leaves the conversation; `b` is told."""
    await a.send({"type": "leave"})
    await a.expect("ended")
    await b.expect("partner_left")


async def both_ask(a: Client, b: Client) -> str:
    await a.send({"type": "keep_in_touch"})
    assert await a.expect("keep_in_touch_sent") == {"type": "keep_in_touch_sent"}
    assert await b.expect("keep_in_touch_offered") == {"type": "keep_in_touch_offered",
                                                       "handle": a.handle}
    await b.send({"type": "keep_in_touch"})
    assert (await b.expect("keep_in_touch_sent"))["type"] == "keep_in_touch_sent"
    added_b = await b.expect("contact_added")
    added_a = await a.expect("contact_added")
    assert added_a["contact"]["id"] == added_b["contact"]["id"]
    assert added_a["contact"]["handle"] == b.handle
    assert added_b["contact"]["handle"] == a.handle
    assert added_a["contact"]["online"] is True and added_b["contact"]["online"] is True
    return added_a["contact"]["id"]


@pytest.mark.usefixtures("backend")
async def test_both_asking_during_the_conversation_makes_one_contact() -> None:
    a, b = await two_full()
    await pair_clients(a, b)
    contact = await both_ask(a, b)
    assert await contact_ids() == [contact]
    # The conversation goes on as before.
    await a.send({"type": "message", "text": "so we keep in touch"})
    assert (await b.expect("message"))["text"] == "so we keep in touch"
    await close_all(a, b)


@pytest.mark.usefixtures("backend")
async def test_both_asking_after_it_ended_within_the_window() -> None:
    a, b = await two_full()
    await pair_clients(a, b)
    await leaves(a, b)
    assert await contact_ids() == []
    await both_ask(b, a)
    await close_all(a, b)


@pytest.mark.usefixtures("backend")
async def test_one_way_nothing_happens_and_the_asker_is_told_nothing() -> None:
    a, b = await two_full()
    await pair_clients(a, b)
    await a.send({"type": "keep_in_touch"})
    await a.expect("keep_in_touch_sent")
    await b.expect("keep_in_touch_offered")
    await leaves(b, a)
    assert await a.silent(0.5)  # no "declined", ever
    assert await contact_ids() == []
    # Asking again changes nothing and tells nothing more.
    await a.send({"type": "keep_in_touch"})
    await a.expect("keep_in_touch_sent")
    assert await a.silent(0.3)
    await close_all(a, b)


@pytest.mark.usefixtures("backend")
async def test_the_window_closes_when_either_is_matched_again() -> None:
    a, b = await two_full()
    c = await connect(await database_sync_to_async(full_user)("Cid"))
    await pair_clients(a, b)
    await a.send({"type": "keep_in_touch"})
    await a.expect("keep_in_touch_sent")
    await b.expect("keep_in_touch_offered")
    await leaves(a, b)
    await pair_clients(a, c)  # a met someone new
    await b.send({"type": "keep_in_touch"})
    assert (await b.error())["code"] == "not_in_conversation"
    assert await contact_ids() == []
    await close_all(a, b, c)


@pytest.mark.usefixtures("backend")
async def test_the_window_closes_after_its_seconds(settings) -> None:
    settings.KEEP_IN_TOUCH_WINDOW_SECONDS = 0
    a, b = await two_full()
    await pair_clients(a, b)
    await leaves(a, b)
    await a.send({"type": "keep_in_touch"})
    assert (await a.error())["code"] == "not_in_conversation"
    await close_all(a, b)


@pytest.mark.usefixtures("backend")
async def test_nobody_to_keep_in_touch_with_before_any_conversation() -> None:
    a, b = await two_full()
    await a.send({"type": "keep_in_touch"})
    assert (await a.error())["code"] == "not_in_conversation"
    await close_all(a, b)


@database_sync_to_async
def new_guest() -> User:
    guest = create_guest()
    User.objects.filter(pk=guest.pk).update(rules_accepted_at=guest.last_seen)
    return User.objects.get(pk=guest.pk)


@pytest.mark.usefixtures("backend")
async def test_a_guest_is_refused_then_answers_after_claiming() -> None:
    a = await connect(await database_sync_to_async(full_user)("Ann"))
    guest_user = await new_guest()
    guest = await connect(guest_user)
    await pair_clients(a, guest)
    await guest.send({"type": "keep_in_touch"})
    error = await guest.error()
    assert error["code"] == "account_required"
    assert await a.silent(0.3)  # a refused ask offers nothing
    # The full account asks; the guest is offered it all the same.
    await a.send({"type": "keep_in_touch"})
    await a.expect("keep_in_touch_sent")
    assert (await guest.expect("keep_in_touch_offered"))["handle"] == a.handle
    await leaves(a, guest)
    # The guest claims its account (the page reloads: a new socket), the offer is still
    # there, and answering it makes the contact.
    await database_sync_to_async(claim_guest)(guest_user, "a-new-pass-123")
    await guest.close()
    claimed = await connect(await database_sync_to_async(User.objects.get)(pk=guest_user.pk))
    assert (await claimed.expect("keep_in_touch_offered"))["handle"] == a.handle
    await claimed.send({"type": "keep_in_touch"})
    await claimed.expect("keep_in_touch_sent")
    added = await claimed.expect("contact_added")
    assert (await a.expect("contact_added"))["contact"]["id"] == added["contact"]["id"]
    await close_all(a, claimed)


@pytest.mark.parametrize("how", ["block", "report"])
@pytest.mark.parametrize("who", ["asker", "other"])
@pytest.mark.usefixtures("backend")
async def test_a_block_or_report_cancels_a_pending_request(how: str,
                                                           who: str) -> None:
    a, b = await two_full()
    await pair_clients(a, b)
    await a.send({"type": "keep_in_touch"})
    await a.expect("keep_in_touch_sent")
    await b.expect("keep_in_touch_offered")
    actor = a if who == "asker" else b
    frame = {"type": "report", "reason": "spam"} if how == "report" else {"type": "block"}
    await actor.send(frame)
    await actor.expect("reported" if how == "report" else "blocked",
                       skip=("typing", "ended", "partner_left"))
    assert not await database_sync_to_async(ContactRequest.objects.exists)()
    # The other side's answer now leads nowhere, and says so to nobody.
    answerer = b if who == "asker" or how == "report" else a
    await answerer.send({"type": "keep_in_touch"})
    await answerer.expect("keep_in_touch_sent", skip=("typing", "ended", "partner_left"))
    assert await contact_ids() == []
    if how == "report" and who == "other":
        assert await a.silent(0.3)  # the reported asker learns nothing of the report
    await close_all(a, b)


@pytest.mark.usefixtures("backend")
async def test_the_offer_reaches_a_partner_who_reconnects() -> None:
    a, b = await two_full()
    await pair_clients(a, b)
    await b.communicator.disconnect(code=1006)  # b's network drops; the conversation waits
    await a.expect("partner_reconnecting")
    await a.send({"type": "keep_in_touch"})
    await a.expect("keep_in_touch_sent")
    back = await connect(b.user)
    assert (await back.expect("keep_in_touch_offered"))["handle"] == a.handle
    await back.send({"type": "keep_in_touch"})
    await back.expect("keep_in_touch_sent")
    added = await back.expect("contact_added")
    assert (await a.expect("contact_added"))["contact"]["id"] == added["contact"]["id"]
    await close_all(a, back)


# ---- across two server processes


@pytest.mark.e2e
def test_consent_across_two_processes(start_server, redis_url) -> None:
    one, two = start_server(redis_url=redis_url), start_server(redis_url=redis_url)
    ann, ben = full_user("Ann"), full_user("Ben")
    a, b = Socket(one.url, session_of(ann)), Socket(two.url, session_of(ben))
    a.expect("welcome")
    b.expect("welcome")
    a.send({"type": "find", "mode": "text"})
    b.send({"type": "find", "mode": "text"})
    a.expect("matched", 20)
    b.expect("matched", 20)
    b.send({"type": "keep_in_touch"})
    b.expect("keep_in_touch_sent")
    assert a.expect("keep_in_touch_offered")["handle"] == ben.username
    a.send({"type": "leave"})
    a.expect("ended")
    b.expect("partner_left")
    a.send({"type": "keep_in_touch"})
    a.expect("keep_in_touch_sent")
    added_a, added_b = a.expect("contact_added"), b.expect("contact_added")
    assert added_a["contact"]["id"] == added_b["contact"]["id"]
    assert (added_a["contact"]["handle"], added_b["contact"]["handle"]) == (ben.username,
                                                                            ann.username)
    assert [str(pk) for pk in Contact.objects.values_list("pk", flat=True)] == [
        added_a["contact"]["id"]]
