"""Every error code of the live socket: each refusal is an `error` frame and changes nothing.

Codes (PROTOCOL.md section 2): bad_frame, too_long, rate_limited (with retry_after; flooding
closes with 4008), not_in_conversation, already_searching, replaced (close 4009).
"""
from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async
from chatsockets import close_all, connect, find, pair

from moderation.models import Report

pytestmark = pytest.mark.django_db(transaction=True)

BAD_FRAMES = [
    pytest.param("{not json", id="not-json"),
    pytest.param("", id="empty-text"),
    pytest.param("[1, 2]", id="array"),
    pytest.param('"find"', id="string"),
    pytest.param("null", id="null"),
    pytest.param("{}", id="no-type"),
    pytest.param('{"type": 7}', id="type-not-a-string"),
    pytest.param('{"type": "dance"}', id="unknown-type"),
    pytest.param('{"type": "find", "mode": "telepathy"}', id="find-unknown-mode"),
    pytest.param('{"type": "find", "mode": 1}', id="find-mode-number"),
    pytest.param('{"type": "find", "interests": "chess"}', id="find-interests-string"),
    pytest.param('{"type": "find", "interests": [1]}', id="find-interest-number"),
    pytest.param('{"type": "find", "interests": {}}', id="find-interests-empty-object"),
    pytest.param('{"type": "find", "interests": ""}', id="find-interests-empty-string"),
    pytest.param('{"type": "find", "interests": false}', id="find-interests-false"),
    pytest.param(json.dumps({"type": "find", "interests": [f"t{i}" for i in range(11)]}),
                 id="find-11-interests"),
    pytest.param(json.dumps({"type": "find", "interests": ["x" * 31]}), id="find-long-interest"),
    pytest.param('{"type": "find", "interests": ["  "]}', id="find-blank-interest"),
    # Two characters that NFKC spells out in 36.
    pytest.param(json.dumps({"type": "find", "interests": ["\ufdfa\ufdfa"]}),
                 id="find-interest-long-once-normalised"),
    pytest.param('{"type": "find", "lang": 5}', id="find-lang-number"),
    pytest.param('{"type": "message", "text": 5}', id="message-text-number"),
    pytest.param('{"type": "message"}', id="message-without-text"),
    pytest.param('{"type": "message", "text": "hi", "client_id": {}}', id="client-id-object"),
    pytest.param('{"type": "typing", "active": "yes"}', id="typing-active-string"),
    pytest.param('{"type": "signal", "data": "offer"}', id="signal-data-string"),
    pytest.param('{"type": "report", "reason": "boring"}', id="report-unknown-reason"),
    pytest.param('{"type": "report", "reason": "spam", "note": 3}', id="report-note-number"),
    pytest.param('{"type": "resume", "conversation": 5}', id="resume-conversation-number"),
    pytest.param('{"type": "resume", "conversation": "c", "after": 3}', id="resume-after-number"),
]


@pytest.mark.parametrize("raw", BAD_FRAMES)
async def test_a_bad_frame_is_refused_and_never_affects_the_partner(raw: str) -> None:
    a, b, _, _ = await pair()
    await a.send_text(raw)
    error = await a.error()
    assert error["code"] == "bad_frame" and error["detail"]
    assert await b.silent(0.2)
    # The socket stays open and the conversation goes on.
    await a.send({"type": "message", "text": "still fine"})
    assert (await a.expect("message"))["text"] == "still fine"
    assert (await b.expect("message"))["text"] == "still fine"
    await close_all(a, b)


async def test_find_without_interests_or_with_null_ones_is_accepted() -> None:
    a = await connect()
    await a.send({"type": "find", "mode": "text", "interests": None, "lang": None})
    assert await a.recv() == {"type": "searching", "mode": "text"}
    await close_all(a)


async def test_a_binary_frame_is_a_bad_frame() -> None:
    a = await connect()
    await a.communicator.send_to(bytes_data=b'{"type": "ping"}')
    assert (await a.error())["code"] == "bad_frame"
    await a.send({"type": "ping"})
    assert await a.recv() == {"type": "pong"}
    await close_all(a)


async def test_a_bad_find_does_not_start_a_search() -> None:
    a, b = await connect(), await connect()
    await a.send({"type": "find", "mode": "text", "interests": "chess"})
    assert (await a.error())["code"] == "bad_frame"
    await find(b)
    assert await b.silent(0.5) and await a.silent(0.1)
    await close_all(a, b)


async def test_a_whitespace_only_line_is_refused() -> None:
    a, b, _, _ = await pair()
    await a.send({"type": "message", "text": " \n\t ", "client_id": "c-1"})
    assert (await a.error())["code"] == "bad_frame"
    await a.send({"type": "message", "text": ""})
    assert (await a.error())["code"] == "bad_frame"
    assert await b.silent()
    await close_all(a, b)


async def test_a_2001_character_line_is_too_long() -> None:
    a, b, _, _ = await pair()
    await a.send({"type": "message", "text": "y" * 2001})
    error = await a.error()
    assert error["code"] == "too_long"
    assert await b.silent()
    # Trimming happens first: 2000 characters plus surrounding spaces are fine.
    await a.send({"type": "message", "text": "  " + "y" * 2000 + "  "})
    assert len((await b.expect("message"))["text"]) == 2000
    await close_all(a, b)


async def test_a_signal_over_64_kib_is_too_long() -> None:
    a, b, _, _ = await pair(mode="video")
    sdp = "a=" + "x" * (64 * 1024)
    await a.send({"type": "signal", "data": {"description": {"type": "offer", "sdp": sdp}}})
    assert (await a.error())["code"] == "too_long"
    assert await b.silent()
    await close_all(a, b)


async def test_a_signal_in_a_text_conversation_is_refused() -> None:
    a, b, _, _ = await pair()
    await a.send({"type": "signal", "data": {"candidate": None}})
    assert (await a.error())["code"] == "bad_frame"
    assert await b.silent()
    await close_all(a, b)


async def test_too_many_lines_are_rate_limited_with_retry_after(settings) -> None:  # noqa: ANN001
    settings.MESSAGE_RATE_LIMIT = "3/m"
    a, b, _, _ = await pair()
    for n in range(3):
        await a.send({"type": "message", "text": f"line {n}"})
        await a.expect("message")
    await a.send({"type": "message", "text": "one too many"})
    error = await a.error()
    assert error["code"] == "rate_limited"
    assert 0 < error["retry_after"] <= 60
    assert [(await b.expect("message"))["text"] for _ in range(3)] == [
        "line 0", "line 1", "line 2"]
    assert await b.silent()
    # Other frames are not lines: they still work.
    await a.send({"type": "typing", "active": True})
    assert (await b.recv())["type"] == "typing"
    await close_all(a, b)


async def test_too_many_frames_are_rate_limited(settings) -> None:  # noqa: ANN001
    settings.FRAME_RATE_LIMIT = "2/m"
    a = await connect()
    for _ in range(2):
        await a.send({"type": "ping"})
        assert await a.recv() == {"type": "pong"}
    await a.send({"type": "ping"})
    error = await a.error()
    assert error["code"] == "rate_limited" and error["retry_after"] > 0
    await close_all(a)


async def test_repeated_flooding_closes_with_4008(settings) -> None:  # noqa: ANN001
    settings.MESSAGE_RATE_LIMIT = "2/m"
    settings.RATE_LIMIT_STRIKES = 2
    a, b, _, _ = await pair()
    frames = []
    for n in range(8):
        await a.send({"type": "message", "text": f"flood {n}"})
    while True:
        frame = await a.recv()
        frames.append(frame)
        if frame["type"] == "<closed>":
            break
    assert frame["code"] == 4008
    assert [f["type"] for f in frames[:2]] == ["message", "message"]
    assert all(f["code"] == "rate_limited" for f in frames[2:-1])
    # The partner saw only the accepted lines, then learns the flooder is gone.
    assert [(await b.expect("message"))["text"] for _ in range(2)] == ["flood 0", "flood 1"]
    await close_all(a, b)


@pytest.mark.parametrize("frame", [
    {"type": "message", "text": "hello?"},
    {"type": "typing", "active": True},
    {"type": "leave"},
    {"type": "signal", "data": {"candidate": None}},
    {"type": "report", "reason": "spam"},
    {"type": "block"},
], ids=lambda f: f["type"])
async def test_conversation_frames_without_a_conversation_are_refused(frame: dict) -> None:
    a = await connect()
    await a.send(frame)
    assert (await a.error())["code"] == "not_in_conversation"
    await find(a)
    await a.send(frame)
    assert (await a.error())["code"] == "not_in_conversation"
    assert await database_sync_to_async(Report.objects.count)() == 0
    await close_all(a)


async def test_find_while_searching_is_refused() -> None:
    a, b = await connect(), await connect()
    await find(a)
    await a.send({"type": "find", "mode": "text"})
    assert (await a.error())["code"] == "already_searching"
    # Still exactly one search: b meets a once.
    await find(b)
    assert (await b.expect("matched"))["partner"]["handle"] == a.handle
    await a.expect("matched")
    assert await a.silent() and await b.silent()
    await close_all(a, b)


async def test_find_while_in_a_conversation_is_refused() -> None:
    a, b, _, _ = await pair()
    await a.send({"type": "find", "mode": "text"})
    assert (await a.error())["code"] == "already_searching"
    assert await b.silent()
    await a.send({"type": "message", "text": "still together"})
    assert (await b.expect("message"))["text"] == "still together"
    await close_all(a, b)


async def test_a_second_socket_replaces_the_first() -> None:
    first = await connect()
    await find(first)
    second = await connect(first.user)
    error = await first.error()
    assert error["code"] == "replaced"
    assert await first.recv() == {"type": "<closed>", "code": 4009}
    await first.close()
    # The new socket works; the old one's search is gone, so a stranger does not meet it.
    await second.send({"type": "ping"})
    assert await second.recv() == {"type": "pong"}
    stranger = await connect()
    await find(stranger)
    assert await stranger.silent(0.5)
    await find(second)
    assert (await stranger.expect("matched"))["partner"]["handle"] == first.handle
    await close_all(second, stranger)


async def test_a_replaced_socket_in_a_conversation_frees_the_partner(settings) -> None:  # noqa: ANN001
    settings.RECONNECT_GRACE_SECONDS = 0
    a, b, _, _ = await pair()
    newer = await connect(a.user)
    assert (await a.error())["code"] == "replaced"
    assert (await a.recv())["code"] == 4009
    await a.close()
    assert (await b.expect("partner_left"))["reason"] == "disconnected"
    await close_all(b, newer)
