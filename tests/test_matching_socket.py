"""Matching as a user sees it on the live socket, on both backends: the `queue` frames and the
time-limited last-partner rule (docs/protocol-extensions.md, "Matching")."""
from __future__ import annotations

import pytest
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
