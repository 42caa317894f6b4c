"""Nobody is in two conversations at once, also when an invitation is accepted in the very
instant the inviter, searching, is paired with a stranger: exactly one of the two happens.
The loser learns it as a user would: the invitee gets `contact_busy` or `invitation_gone`,
the stranger goes on searching. Raced many times, on the embedded default and on Redis."""
from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from chatsockets import Client, close_all, connect, find

from tests.keeping import backend, contacts, full_user  # noqa: F401 - `backend`: a fixture
from tests.test_invitations import invite

pytestmark = pytest.mark.django_db(transaction=True)

TRIES = 12
SKIP = ("typing", "searching", "queue", "contact_presence", "invite_expired")


async def next_frame(client: Client) -> dict:
    while True:
        frame = await client.recv(10)
        if frame["type"] not in SKIP:
            return frame


async def one_race(pause: float) -> str:
    ann = await database_sync_to_async(full_user)("Inviter")
    ben = await database_sync_to_async(full_user)("Invitee")
    contact = await database_sync_to_async(contacts)(ann, ben)
    a, b = await connect(ann), await connect(ben)
    await a.expect("contact_presence")  # b came
    c = await connect(await database_sync_to_async(full_user)("Stranger"))
    invitation = await invite(a, b, contact)
    await find(a)

    async def stranger_finds() -> None:
        await asyncio.sleep(pause)
        await c.send({"type": "find", "mode": "text"})

    await asyncio.gather(stranger_finds(),
                         b.send({"type": "accept", "invitation": invitation}))
    answer = await next_frame(b)
    accepted = answer["type"] == "matched"
    if not accepted:
        assert answer["type"] == "error", answer
        assert answer["code"] in ("contact_busy", "invitation_gone"), answer
    # The stranger either met the inviter or is still searching (then a cancel is answered).
    await c.send({"type": "cancel"})
    stranger = await next_frame(c)
    met_stranger = stranger["type"] == "matched"
    if not met_stranger:
        assert stranger["type"] == "cancelled", stranger
    assert accepted != met_stranger, (answer, stranger)
    # The inviter is told of exactly that one conversation.
    winner = answer if accepted else stranger
    told = await next_frame(a)
    assert told["type"] == "matched" and told["conversation"] == winner["conversation"], told
    await a.send({"type": "leave"})
    assert (await next_frame(a))["type"] == "ended"
    await close_all(a, b, c)
    return "accepted" if accepted else "stranger"


@pytest.mark.usefixtures("backend")
async def test_accept_and_pairing_racing_never_put_the_inviter_in_two() -> None:
    outcomes = [await one_race(pause=n % 4 * 0.002) for n in range(TRIES)]
    assert set(outcomes) <= {"accepted", "stranger"}
