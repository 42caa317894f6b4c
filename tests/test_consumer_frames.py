"""Every client frame of the live socket (PROTOCOL.md section 2), through ChatConsumer.

The consumers run on the embedded default (in-memory channel layer, matching and store); the
main flow runs once more on the real Redis (channels-redis layer, Redis matching and store).
"""
from __future__ import annotations

import asyncio
import uuid

import pytest
from channels.db import database_sync_to_async
from chatsockets import close_all, connect, find, pair, pair_clients

from chat.models import Block, Conversation
from moderation.models import Report

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "redis":
        request.getfixturevalue("redis_live")
    return request.param


async def test_two_users_pair_talk_and_leave(backend: str) -> None:
    a, b, matched_a, matched_b = await pair(interests=["Chess", "jazz"])
    for matched, partner in ((matched_a, b), (matched_b, a)):
        assert matched["type"] == "matched"
        assert matched["mode"] == "text"
        assert matched["partner"] == {"handle": partner.handle, "keeps_history": False}
        assert matched["common_interests"] == ["chess", "jazz"]
        assert matched["ice_servers"] == []
    assert sorted([matched_a["initiator"], matched_b["initiator"]]) == [False, True]
    assert matched_a["initiator"] is True  # the one who waited makes the offer

    await a.send({"type": "message", "text": "hello", "client_id": "a-1"})
    ack = await a.expect("message")
    got = await b.expect("message")
    assert ack["from"] == "me" and ack["client_id"] == "a-1" and ack["text"] == "hello"
    assert got["from"] == "partner" and got["client_id"] is None and got["text"] == "hello"
    assert ack["id"] == got["id"] and ack["filtered"] is False
    await b.send({"type": "message", "text": "hi!"})
    assert (await b.expect("message"))["client_id"] is None
    reply = await a.expect("message")
    assert (reply["from"], reply["text"]) == ("partner", "hi!")
    assert reply["id"] != ack["id"]

    await a.send({"type": "leave"})
    assert await a.expect("ended") == {"type": "ended", "conversation": matched_a["conversation"]}
    assert await b.expect("partner_left") == {"type": "partner_left", "reason": "left"}
    record = await database_sync_to_async(Conversation.objects.get)(id=matched_a["conversation"])
    assert (record.end_reason, record.ended_by_id) == ("left", a.user.id)
    assert {record.user_a_id, record.user_b_id} == {a.user.id, b.user.id}
    assert record.ended_at is not None and record.common_interests == ["chess", "jazz"]
    # After leaving, the conversation's frames are refused on both sides.
    await b.send({"type": "message", "text": "still there?"})
    assert (await b.error())["code"] == "not_in_conversation"
    await close_all(a, b)


async def test_find_answers_searching_with_the_mode() -> None:
    a = await connect()
    await a.send({"type": "find", "mode": "voice", "interests": ["chess"], "lang": "en"})
    assert await a.recv() == {"type": "searching", "mode": "voice"}
    assert await a.silent()
    await close_all(a)


async def test_users_only_meet_in_the_same_mode_and_language() -> None:
    text, voice, english, german = [await connect() for _ in range(4)]
    await find(text, mode="text", lang="en")
    await find(voice, mode="voice", lang="en")
    await find(german, mode="text", lang="de")
    assert await text.silent() and await voice.silent() and await german.silent()
    await find(english, mode="text", lang="EN")
    assert (await english.expect("matched"))["partner"]["handle"] == text.handle
    assert (await text.expect("matched"))["partner"]["handle"] == english.handle
    assert await german.silent() and await voice.silent()
    await close_all(text, voice, english, german)


async def test_shared_interests_come_first(backend: str) -> None:
    chess, jazz = await connect(), await connect()
    await find(chess, interests=["chess"])
    await find(jazz, interests=["jazz"])
    newcomer = await connect()
    await find(newcomer, interests=["Jazz", "poetry"])
    matched = await newcomer.expect("matched")
    assert matched["partner"]["handle"] == jazz.handle
    assert matched["common_interests"] == ["jazz"]
    assert (await jazz.expect("matched"))["common_interests"] == ["jazz"]
    assert await chess.silent()
    await close_all(chess, jazz, newcomer)


async def test_without_shared_interests_users_meet_after_the_wait(
        backend: str, settings) -> None:  # noqa: ANN001
    settings.MATCH_INTEREST_WAIT_SECONDS = 1
    chess, jazz = await connect(), await connect()
    await find(chess, interests=["chess"])
    await find(jazz, interests=["jazz"])
    assert await chess.silent(0.5)
    # Nobody has to do anything: the waiting sockets retry on their own.
    matched = await chess.expect("matched", timeout=6)
    assert matched["partner"]["handle"] == jazz.handle
    assert matched["common_interests"] == []
    assert (await jazz.expect("matched"))["partner"]["handle"] == chess.handle
    await close_all(chess, jazz)


async def test_cancel_stops_looking() -> None:
    a, b = await connect(), await connect()
    await find(a)
    await a.send({"type": "cancel"})
    assert await a.recv() == {"type": "cancelled"}
    await find(b)
    assert await a.silent() and await b.silent()
    # Cancelling when not looking is harmless.
    await a.send({"type": "cancel"})
    assert await a.recv() == {"type": "cancelled"}
    await close_all(a, b)


async def test_typing_reaches_the_partner_only() -> None:
    a, b, _, _ = await pair()
    await a.send({"type": "typing", "active": True})
    assert await b.recv() == {"type": "typing", "active": True}
    await a.send({"type": "typing", "active": False})
    assert await b.recv() == {"type": "typing", "active": False}
    assert await a.silent()
    await close_all(a, b)


async def test_signal_is_relayed_in_a_voice_conversation() -> None:
    a, b, _, _ = await pair(mode="voice")
    offer = {"description": {"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\n"}}
    await a.send({"type": "signal", "data": offer})
    assert await b.recv() == {"type": "signal", "data": offer}
    await b.send({"type": "signal", "data": {"candidate": None}})
    assert await a.recv() == {"type": "signal", "data": {"candidate": None}}
    await close_all(a, b)


async def test_ping_answers_pong() -> None:
    a = await connect()
    await a.send({"type": "ping"})
    assert await a.recv() == {"type": "pong"}
    await close_all(a)


async def test_report_stores_reason_and_note_against_the_partner() -> None:
    a, b, matched, _ = await pair()
    await a.send({"type": "report", "reason": "harassment", "note": "  rude words  "})
    reported = await a.expect("reported")
    report = await database_sync_to_async(Report.objects.get)(pk=reported["report"])
    assert (report.reporter_id, report.reported_id) == (a.user.id, b.user.id)
    assert str(report.conversation_id) == matched["conversation"]
    assert (report.reason, report.note, report.status) == ("harassment", "rude words", "open")
    # Reporting does not end the conversation, and the partner is not told.
    assert await b.silent()
    await a.send({"type": "message", "text": "still here"})
    assert (await b.expect("message"))["text"] == "still here"
    await close_all(a, b)


async def test_report_after_the_end_applies_to_the_last_partner() -> None:
    a, b, matched, _ = await pair()
    await b.send({"type": "leave"})
    await b.expect("ended")
    await a.expect("partner_left")
    await a.send({"type": "report", "reason": "spam"})
    reported = await a.expect("reported")
    report = await database_sync_to_async(Report.objects.get)(pk=reported["report"])
    assert (report.reported_id, str(report.conversation_id), report.note) == (
        b.user.id, matched["conversation"], "")
    await close_all(a, b)


async def test_block_ends_the_conversation_and_they_never_meet_again() -> None:
    a, b, matched, _ = await pair()
    await a.send({"type": "block"})
    assert await a.recv() == {"type": "ended", "conversation": matched["conversation"]}
    assert await a.recv() == {"type": "blocked"}
    assert await b.recv() == {"type": "partner_left", "reason": "blocked"}
    assert await database_sync_to_async(
        Block.objects.filter(blocker=a.user, blocked=b.user).exists)()

    # Each meets someone else first, so that only the block keeps them apart.
    c, d = await connect(), await connect()
    for blocked_side, other in ((a, c), (b, d)):
        await pair_clients(blocked_side, other)
        await blocked_side.send({"type": "leave"})
        await blocked_side.expect("ended")
        await other.expect("partner_left")
    await find(a)
    await find(b)
    assert await a.silent(1.0) and await b.silent(0.2)
    newcomer = await connect()
    await find(newcomer)
    partner = (await newcomer.expect("matched"))["partner"]["handle"]
    assert partner in (a.handle, b.handle)
    await close_all(a, b, c, d, newcomer)


async def test_block_after_the_end_applies_to_the_last_partner() -> None:
    a, b, matched, _ = await pair()
    await a.send({"type": "leave"})
    await a.expect("ended")
    await b.expect("partner_left")
    await b.send({"type": "block"})
    assert await b.recv() == {"type": "blocked"}
    block = await database_sync_to_async(Block.objects.get)(blocker=b.user)
    assert (block.blocked_id, str(block.conversation_id)) == (a.user.id, matched["conversation"])
    assert await a.silent()
    await close_all(a, b)


async def test_the_partner_just_left_is_not_offered_again_at_once() -> None:
    a, b, _, _ = await pair()
    await a.send({"type": "leave"})
    await a.expect("ended")
    await b.expect("partner_left")
    await find(a)
    await find(b)
    assert await a.silent(0.5) and await b.silent(0.2)
    c = await connect()
    await find(c)
    assert (await c.expect("matched"))["partner"]["handle"] == a.handle
    await close_all(a, b, c)


async def test_a_dropped_partner_is_reported_disconnected(settings) -> None:  # noqa: ANN001
    settings.RECONNECT_GRACE_SECONDS = 0
    a, b, matched, _ = await pair()
    await a.close()
    assert await b.expect("partner_left", timeout=10) == {
        "type": "partner_left", "reason": "disconnected"}
    record = await database_sync_to_async(Conversation.objects.get)(id=matched["conversation"])
    assert record.end_reason == "disconnected"
    await close_all(b)


async def test_a_dropped_searcher_is_never_handed_out() -> None:
    ghost = await connect()
    await find(ghost)
    await ghost.close()
    a, b = await connect(), await connect()
    await find(a)
    await find(b)
    assert (await b.expect("matched"))["partner"]["handle"] == a.handle
    await close_all(a, b)


async def test_resume_of_a_conversation_that_is_not_yours_is_refused() -> None:
    a, b, matched, _ = await pair()
    outsider = await connect()
    await outsider.send({"type": "resume", "conversation": matched["conversation"],
                         "after": None})
    assert (await outsider.error())["code"] == "not_in_conversation"
    await outsider.send({"type": "resume", "conversation": str(uuid.uuid4()), "after": None})
    assert (await outsider.error())["code"] == "not_in_conversation"
    assert await a.silent() and await b.silent()
    await close_all(a, b, outsider)


async def test_resume_of_a_conversation_that_is_over_is_refused() -> None:
    a, b, matched, _ = await pair()
    await a.send({"type": "leave"})
    await a.expect("ended")
    await b.expect("partner_left")
    for side in (a, b):
        await side.send({"type": "resume", "conversation": matched["conversation"],
                         "after": None})
        assert (await side.error())["code"] == "not_in_conversation"
    await close_all(a, b)


# ---- lines


async def test_lines_are_trimmed_on_both_sides() -> None:
    a, b, _, _ = await pair()
    await a.send({"type": "message", "text": "  \n hello there \t "})
    assert (await a.expect("message"))["text"] == "hello there"
    assert (await b.expect("message"))["text"] == "hello there"
    await close_all(a, b)


async def test_a_2000_character_line_is_accepted() -> None:
    a, b, _, _ = await pair()
    text = "x" * 2000
    await a.send({"type": "message", "text": text})
    assert (await b.expect("message"))["text"] == text
    await close_all(a, b)


async def test_each_line_reaches_the_partner_exactly_once_with_a_server_id() -> None:
    a, b, _, _ = await pair()
    for n in range(5):
        await a.send({"type": "message", "text": f"line {n}", "client_id": f"c-{n}"})
    acks = [await a.expect("message") for _ in range(5)]
    got = [await b.expect("message") for _ in range(5)]
    assert [f["text"] for f in got] == [f"line {n}" for n in range(5)]
    assert [f["client_id"] for f in acks] == [f"c-{n}" for n in range(5)]
    assert {f["from"] for f in acks} == {"me"} and {f["from"] for f in got} == {"partner"}
    assert [f["id"] for f in acks] == [f["id"] for f in got]
    assert len({f["id"] for f in got}) == 5
    assert all(f["ts"].endswith("Z") for f in got)
    assert await b.silent() and await a.silent()
    await close_all(a, b)


async def test_both_sides_see_one_order_when_both_type_at_once(backend: str) -> None:
    a, b, _, _ = await pair()
    count = 15

    async def talk(side, name: str) -> None:  # noqa: ANN001
        for n in range(count):
            await side.send({"type": "message", "text": f"{name} {n}"})

    await asyncio.gather(talk(a, "a"), talk(b, "b"))
    seen_by_a = [await a.expect("message") for _ in range(2 * count)]
    seen_by_b = [await b.expect("message") for _ in range(2 * count)]
    assert [f["id"] for f in seen_by_a] == [f["id"] for f in seen_by_b]
    assert [f["text"] for f in seen_by_a] == [f["text"] for f in seen_by_b]
    assert len({f["id"] for f in seen_by_a}) == 2 * count
    # Each side's own lines keep the order it sent them in.
    assert [f["text"] for f in seen_by_a if f["from"] == "me"] == [f"a {n}" for n in range(count)]
    assert [f["text"] for f in seen_by_b if f["from"] == "me"] == [f"b {n}" for n in range(count)]
    assert await a.silent() and await b.silent()
    await close_all(a, b)


async def test_only_the_two_participants_receive_a_conversations_frames() -> None:
    a, b, _, _ = await pair()
    c, d, _, _ = await pair()
    await a.send({"type": "message", "text": "for b only"})
    await a.send({"type": "typing", "active": True})
    assert (await b.expect("message"))["text"] == "for b only"
    assert await c.silent() and await d.silent()
    await close_all(a, b, c, d)
