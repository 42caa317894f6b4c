"""Matching as a user sees it on the live socket, on both backends: the `queue` frames and the
time-limited last-partner rule (docs/protocol-extensions.md, "Matching")."""
from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from chatsockets import close_all, connect, find, pair

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "redis":
        request.getfixturevalue("redis_live")
    return request.param


async def test_a_searching_user_is_told_how_many_others_search(
        backend: str, settings) -> None:  # noqa: ANN001
    settings.QUEUE_STATUS_SECONDS = 1
    german, french, video = await connect(), await connect(), await connect()
    await find(german, lang="de", queue_status=True)
    assert await german.recv() == {"type": "queue", "mode": "text", "searching": 0}
    await find(video, mode="video")
    assert await video.silent()  # did not ask for the count
    await find(french, lang="fr", queue_status=True)
    assert await french.recv() == {"type": "queue", "mode": "text", "searching": 1}
    # The renewal brings the new count to the one who waited first.
    assert await german.expect("queue", timeout=3) == {
        "type": "queue", "mode": "text", "searching": 1}
    await french.send({"type": "cancel"})
    assert await french.expect("cancelled", skip=("queue",)) == {"type": "cancelled"}
    assert await german.expect("queue", timeout=3) == {
        "type": "queue", "mode": "text", "searching": 0}
    await close_all(german, french, video)


async def test_a_refused_queue_status_changes_nothing(backend: str) -> None:
    a = await connect()
    await a.send({"type": "find", "mode": "text", "queue_status": "yes"})
    assert (await a.error())["code"] == "bad_frame"
    await find(a)
    assert await a.silent()
    await close_all(a)


async def test_two_who_just_left_each_other_meet_again_after_the_last_partner_time(
        backend: str, settings) -> None:  # noqa: ANN001
    settings.LAST_PARTNER_SECONDS = 2
    settings.QUEUE_STATUS_SECONDS = 1  # the renewal that retries, once a second
    a, b, _, _ = await pair()
    await a.send({"type": "leave"})
    await a.expect("ended")
    await b.expect("partner_left")
    await find(a)
    await find(b)
    assert await a.silent(1.0)  # alone on the site, but the rule holds for now
    matched_a = await a.expect("matched", timeout=6)
    assert matched_a["partner"]["handle"] == b.handle
    assert (await b.expect("matched"))["partner"]["handle"] == a.handle
    await close_all(a, b)


# ---- what a search knows of the user, read when the socket connected (chat.live.searching)


async def test_a_block_made_on_a_page_holds_for_a_socket_already_connected(
        backend: str) -> None:
    from chat.conversations import block_user

    a, b, c = await connect(), await connect(), await connect()
    # Made outside the socket (the contacts page), after both sockets read their profile.
    await database_sync_to_async(block_user)(a.user.id, b.user.id, None)
    await asyncio.sleep(0.2)  # the event reaches the blocker's socket
    await find(a)
    await find(b)
    assert await a.silent(0.5)  # the only other searcher is the one blocked
    await find(c)
    assert (await c.expect("matched"))["partner"]["handle"] in (a.handle, b.handle)
    await close_all(a, b, c)


async def test_a_block_of_the_last_partner_holds_once_the_last_partner_time_is_over(
        backend: str, settings) -> None:  # noqa: ANN001
    settings.LAST_PARTNER_SECONDS = 0
    a, b, _, _ = await pair()
    await a.send({"type": "leave"})
    await a.expect("ended")
    await b.expect("partner_left")
    await a.send({"type": "block"})
    await a.expect("blocked")
    await asyncio.sleep(0.2)
    await find(b)
    await find(a)
    assert await a.silent(0.5)
    assert await b.silent(0.1)
    await close_all(a, b)


async def test_the_history_switch_holds_from_the_next_find(backend: str) -> None:
    from django.test import Client as HttpClient

    keeper, other = await connect(), await connect()
    http = HttpClient()
    await database_sync_to_async(http.force_login)(keeper.user)
    response = await database_sync_to_async(http.post)(
        "/account/settings/", {"form": "preferences", "keeps_history": "on"},
        HTTP_ACCEPT="application/json")
    assert response.json() == {"keeps_history": True}
    await asyncio.sleep(0.2)  # the event reaches the socket
    await find(keeper)
    await find(other)
    matched = await other.expect("matched")
    assert matched["partner"] == {"handle": keeper.handle, "keeps_history": True}
    await close_all(keeper, other)


async def test_pairings_made_at_once_are_each_recorded_for_both_sides(backend: str) -> None:
    from chat.models import Conversation

    clients = [await connect() for _ in range(12)]
    await asyncio.gather(*(find(client) for client in clients))
    matched = [await client.expect("matched") for client in clients]
    ids = {frame["conversation"] for frame in matched}
    assert len(ids) == 6
    # Each side's next frame finds the row: the second side leaves at once.
    for client, frame in zip(clients, matched, strict=True):
        if frame["initiator"]:
            await client.send({"type": "leave"})
            await client.expect("ended")
    rows = await database_sync_to_async(list)(
        Conversation.objects.filter(id__in=ids).values_list("user_a_id", "user_b_id",
                                                            "end_reason"))
    assert len(rows) == 6 and all(reason == "left" for *_, reason in rows)
    assert {uid for a, b, _ in rows for uid in (a, b)} == {c.user.id for c in clients}
    await close_all(*clients)


async def test_a_find_over_the_frame_rate_is_refused_and_queues_nobody(
        backend: str, settings) -> None:  # noqa: ANN001
    settings.FRAME_RATE_LIMIT = "2/m"
    a, b = await connect(), await connect()
    await find(a)  # frame 1 of 2
    await a.send({"type": "cancel"})  # frame 2
    assert await a.expect("cancelled") == {"type": "cancelled"}
    await a.send({"type": "find", "mode": "text"})
    error = await a.error()
    assert error["code"] == "rate_limited" and error["retry_after"] > 0
    await find(b)  # a was refused: not waiting, so b waits alone
    assert await b.silent(0.5) and await a.silent(0.2)
    await close_all(a, b)
