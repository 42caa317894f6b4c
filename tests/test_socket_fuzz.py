"""Property-based fuzzing of the live socket (issue 11): whatever a client sends.

Against the real consumer (WebsocketCommunicator, PostgreSQL, the embedded live state): two
users in a conversation, one of them sends frames of every known type with fields of every
JSON shape, unknown types, nested and huge frames, raw text, binary frames and invalid UTF-8.
Whatever came, the sender's socket is open and answers a ping, or was closed with 4008 (too
many refusals); no frame was answered with `internal` (a handler raised); the partner's socket
is open; and once both close, nothing is left counted. The number of inputs tried is printed.
"""
from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from chatsockets import Client, close_all, held, pair
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT_TYPES = ["find", "cancel", "message", "typing", "signal", "leave", "report", "block",
                "ping", "resume", "media_state", "keep_in_touch", "invite", "accept",
                "decline", "cancel_invite"]
FIELDS = ["mode", "interests", "lang", "practice", "text", "client_id", "active", "data",
          "reason", "note", "conversation", "after", "audio", "video", "contact",
          "invitation", "description", "candidate", "sdp", "type"]
CLOSE_CODES = {4008}  # the only close a client can bring about with frames alone

json_leaf = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats()
             | st.text(max_size=40) | st.sampled_from(
                 ["text", "video", "offer", "answer", "harassment", "en", "\u0000", "",
                  "candidate:1 1 udp 1 10.0.0.1 5 typ host", "v=0\r\na=candidate:1 typ srflx\n"]))
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(FIELDS) | st.text(max_size=8), inner, max_size=4),
    max_leaves=12)
shaped_frame = st.builds(
    lambda kind, fields: json.dumps({**fields, "type": kind}, ensure_ascii=False),
    st.sampled_from(CLIENT_TYPES) | json_value,
    st.dictionaries(st.sampled_from(FIELDS), json_value, max_size=4))
signal_frame = st.builds(
    lambda data: json.dumps({"type": "signal", "data": data}), json_value)
nested = st.builds(lambda depth, kind, brackets: json.dumps({"type": kind})[:-1]
                   + ', "x": ' + brackets[0] * depth + brackets[1] * depth + "}",
                   st.integers(1, 200_000), st.sampled_from(CLIENT_TYPES),
                   st.sampled_from(["[]", "[]", "{}"]))
huge = st.builds(lambda n, kind: json.dumps({"type": kind, "text": "x" * n}),
                 st.integers(60_000, 1_100_000), st.sampled_from(["message", "ping"]))
frame_text = shaped_frame | signal_frame | nested | huge | st.text(max_size=200)
binary = st.binary(max_size=200) | st.just(b"\xff\xfe{\"type\": \"ping\"}")
frame_input = (frame_text.map(lambda text: {"type": "websocket.receive", "text": text})
               | binary.map(lambda data: {"type": "websocket.receive", "bytes": data}))


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """One event loop for every example: the embedded live state lives across them."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


async def answers_ping(client: Client) -> list[dict[str, Any]]:
    """Every frame up to the pong (or the close) after a ping."""
    seen: list[dict[str, Any]] = []
    if client.close_code is None:
        await client.send({"type": "ping"})
    while client.close_code is None:
        frame = await client.recv()
        seen.append(frame)
        if frame["type"] == "pong":
            return seen
    return seen


async def one_case(inputs: list[dict[str, Any]], mode: str) -> None:
    a, b, _, _ = await pair(mode)
    for message in inputs:
        if a.close_code is None:
            await a.communicator.send_input(message)
    seen = await answers_ping(a)
    assert a.close_code in CLOSE_CODES | {None}, a.close_code
    assert seen[-1]["type"] == "pong" or a.close_code == 4008
    assert not [f for f in seen if f.get("code") == "internal"], seen
    assert (await answers_ping(b))[-1]["type"] == "pong"  # the partner is untouched
    await a.close(1000)
    await close_all(b)
    assert await held() == dict.fromkeys(await held(), 0)


def test_no_input_crashes_a_socket_or_leaves_anything_counted(
        loop: asyncio.AbstractEventLoop) -> None:
    tried: list[int] = []

    @hypothesis_settings(max_examples=60, deadline=None, database=None,
                         suppress_health_check=list(HealthCheck))
    @given(st.lists(frame_input, min_size=1, max_size=8), st.sampled_from(["text", "video"]))
    def case(inputs: list[dict[str, Any]], mode: str) -> None:
        tried.append(len(inputs))
        loop.run_until_complete(one_case(inputs, mode))

    case()
    print(f"\nfuzz: {len(tried)} cases, {sum(tried)} frames")
