"""Hostile clients on the live socket (issue 11, findings 1, 5, 6, 8, 9 and the socket side of 2).

Each test reproduces a finding as the attacker made it, against real daphne processes where
the finding was made there, and shows what a user now notices instead.
"""
from __future__ import annotations

import json
import select
import socket
import struct
from pathlib import Path
from typing import Any

import pytest
from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer
from chatclient import Socket, guest_session
from chatsockets import close_all, connect, pair
from django.conf import settings as django_settings

from chat.matching import reset_matcher
from chat.store import reset_store
from tests.faults import TcpProxy

DEEP_PING = '{"type": "ping", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
# Within the size limit but nested past orjson's own limit of 1024 levels.
DEEP_WITHIN_SIZE = '{"type": "ping", "x": ' + "[" * 50_000 + "]" * 50_000 + "}"
DEEP_SIGNAL = '{"type": "signal", "data": {"candidate": ' + "[" * 20 + "]" * 20 + "}}"
DAPHNE_MAX_MESSAGE = 1024 * 1024  # daphne's --websocket_max_message_size default


def ping_answered(client: Socket) -> bool:
    client.send({"type": "ping"})
    return client.expect("pong", skip=()) == {"type": "pong"}


# ---- finding 1: deep nesting, on daphne, both backends


@pytest.mark.e2e
@pytest.mark.parametrize("backend", ["embedded", "redis"])
def test_deep_frames_leave_the_socket_usable_and_lock_nobody_out(
        start_server: Any, request: pytest.FixtureRequest, backend: str) -> None:
    redis_url = request.getfixturevalue("redis_url") if backend == "redis" else None
    server = start_server(redis_url=redis_url, MAX_SOCKETS_PER_ADDRESS="3")
    for _ in range(8):  # 24 deep frames; 20 used to lock the address out for good
        attacker = Socket(server.url, guest_session(server.url))
        attacker.expect("welcome")
        for raw, code in ((DEEP_PING, "too_long"), (DEEP_WITHIN_SIZE, "bad_frame"),
                          (DEEP_SIGNAL, "bad_frame")):
            attacker.send_raw(raw.encode())
            assert attacker.expect("error", skip=())["code"] == code
        assert ping_answered(attacker)
        attacker.close()
    # Every place was given back: three users behind the same address are all welcomed.
    users = [Socket(server.url, guest_session(server.url)) for _ in range(3)]
    assert [u.expect("welcome")["type"] for u in users] == ["welcome"] * 3
    for user in users:
        user.close()
    assert "1011" not in server.log() and "Traceback" not in server.log()


# ---- finding 8: a 1 MiB frame


@pytest.mark.e2e
def test_a_one_mebibyte_frame_is_answered_too_long_and_above_daphne_closes_1009(
        start_server: Any) -> None:
    server = start_server(MAX_SOCKETS_PER_ADDRESS="1")
    session = guest_session(server.url)
    client = Socket(server.url, session)
    client.expect("welcome")
    head = b'{"type": "message", "text": "'
    frame = head + b"x" * (DAPHNE_MAX_MESSAGE - len(head) - 2) + b'"}'
    assert len(frame) == DAPHNE_MAX_MESSAGE
    client.send_raw(frame)
    error = client.expect("error", skip=())
    assert error["code"] == "too_long" and str(django_settings.FRAME_MAX_BYTES) in error["detail"]
    assert ping_answered(client)
    # One byte more and autobahn, under daphne, fails the connection as soon as it reads the
    # frame's header, before the application sees anything: it aborts the TCP connection
    # (its close frame, 1009 "message too big", is lost with it), so the client sees a reset.
    # The socket's place is given back all the same.
    client.sock.sendall(struct.pack("!BBQ", 0x81, 0x80 | 127, DAPHNE_MAX_MESSAGE + 1)
                        + b"mask")
    try:
        assert client.recv() is None and client.close_code == 1009
    except ConnectionResetError:
        pass
    client.sock.close()
    again = Socket(server.url, session)
    assert again.expect("welcome")["type"] == "welcome"
    again.close()


# ---- finding 5: refusals are not free


@pytest.mark.parametrize("garbage", [
    "not json", json.dumps({"type": "teleport"}), json.dumps({"type": "message", "text": "hi"}),
    json.dumps({"type": "leave"}), json.dumps({"type": "signal", "data": "x"}),
], ids=["malformed", "unknown-type", "message-outside", "leave-outside", "bad-signal"])
@pytest.mark.django_db(transaction=True)
async def test_a_client_that_sends_only_refused_frames_is_closed_4008(
        garbage: str, settings: Any) -> None:  # noqa: ANN401 - pytest-django's settings
    settings.RATE_LIMIT_STRIKES = 5
    client = await connect()
    for _ in range(5):
        await client.send_text(garbage)
        assert (await client.error())["code"] != "rate_limited"
    await client.send_text(garbage)
    await client.error()
    closing = await client.error()
    assert closing["code"] == "rate_limited" and closing["retry_after"] == 60
    assert await client.recv() == {"type": "<closed>", "code": 4008}


@pytest.mark.django_db(transaction=True)
async def test_a_few_refusals_cost_a_real_client_nothing() -> None:
    client = await connect()
    for _ in range(django_settings.RATE_LIMIT_STRIKES):
        await client.send({"type": "leave"})
        assert (await client.error())["code"] == "not_in_conversation"
    await client.send({"type": "ping"})
    assert await client.recv() == {"type": "pong"}
    await close_all(client)


# ---- finding 2, the socket side: control characters are removed at the door


@pytest.mark.django_db(transaction=True)
async def test_nul_and_other_control_characters_never_get_past_the_door() -> None:
    a, b, _, _ = await pair()
    await a.send({"type": "message", "text": "x\u0000 y\u0007\u001b[31m\r\n\tz\u0000"})
    ack, got = await a.expect("message"), await b.expect("message")
    assert ack["text"] == got["text"] == "x y[31m\r\n\tz"
    await a.send({"type": "message", "text": "\u0000\u0001"})
    assert (await a.error())["code"] == "bad_frame"  # nothing left: an empty line
    await close_all(a, b)


# ---- no exception closes a socket: a real fault (Redis unreachable) inside a handler


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
async def test_a_handler_that_fails_answers_internal_and_the_socket_stays_usable(
        redis_url: str, settings: Any, caplog: pytest.LogCaptureFixture) -> None:  # noqa: ANN401
    proxy = TcpProxy(("127.0.0.1", int(redis_url.rsplit(":", 1)[1].split("/")[0])))
    settings.REDIS_URL = f"redis://127.0.0.1:{proxy.port}/{redis_url.rsplit('/', 1)[1]}"
    reset_store()
    reset_matcher()
    try:
        client, partner, _, _ = await pair()
        proxy.cut()  # the live store's Redis goes away under the socket
        await client.send({"type": "message", "text": "secret words"})
        error = await client.error(timeout=15)
        assert error["code"] == "internal"
        proxy.restore()
        await client.send({"type": "ping"})
        assert await client.recv(timeout=15) == {"type": "pong"}
        await client.send({"type": "message", "text": "after the fault"})
        assert (await partner.expect("message"))["text"] == "after the fault"
        assert "secret words" not in caplog.text and "failed: " in caplog.text
        await close_all(client, partner)
    finally:
        proxy.stop()


# ---- finding 9: a close with 1000 is a goodbye


@pytest.mark.django_db(transaction=True)
async def test_a_close_with_1000_ends_the_conversation_at_once() -> None:
    a, b, _, _ = await pair()
    await a.close(1000)
    assert await b.recv() == {"type": "partner_left", "reason": "left"}
    await b.send({"type": "find", "mode": "text"})
    assert (await b.recv())["type"] == "searching"
    await close_all(b)


@pytest.mark.parametrize("code", [1001, 1005, 1006, 1012], ids=lambda c: f"close-{c}")
@pytest.mark.django_db(transaction=True)
async def test_other_closes_are_drops_with_the_grace_of_the_contract(code: int) -> None:
    """1001 is what a browser sends on reload and tab close, 1005 what `ws.close()` without
    a code sends, 1006 a lost connection."""
    a, b, matched, _ = await pair()
    await a.close(code)
    assert await b.recv() == {"type": "partner_reconnecting"}
    back = await connect(a.user)
    await back.send({"type": "resume", "conversation": matched["conversation"], "after": None})
    assert (await back.expect("resumed"))["conversation"] == matched["conversation"]
    assert await b.expect("partner_back") == {"type": "partner_back"}
    await close_all(back, b)


@pytest.mark.django_db(transaction=True)
async def test_a_replaced_socket_answering_the_close_with_1000_ends_nothing() -> None:
    """The server closed it (4009); a client library that answers any close with 1000 must
    not end the conversation the newer socket resumes."""
    a, b, matched, _ = await pair()
    newer = await connect(a.user)
    assert (await a.expect("error"))["code"] == "replaced"
    assert await a.recv() == {"type": "<closed>", "code": 4009}
    await a.close(1000)
    await newer.send({"type": "resume", "conversation": matched["conversation"], "after": None})
    assert (await newer.expect("resumed"))["conversation"] == matched["conversation"]
    await close_all(newer, b)


# ---- finding 6: a partner that never reads


def vm_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


class NonReader(Socket):
    """A client whose receive buffer is small and that never reads."""

    def __init__(self, base: str, session: str) -> None:
        super().__init__(base, session)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)


@pytest.mark.e2e
def test_a_partner_that_never_reads_is_dropped_and_memory_stays_flat(
        start_server: Any) -> None:
    server = start_server(FRAME_RATE_LIMIT="100000/10s", SEND_BUFFER_MAX_BYTES=str(1 << 20))
    session_a, session_b = guest_session(server.url), guest_session(server.url)
    a, b = Socket(server.url, session_a), NonReader(server.url, session_b)
    a.expect("welcome")
    b.expect("welcome")
    a.send({"type": "find", "mode": "voice"})
    b.send({"type": "find", "mode": "voice"})
    a.expect("matched", 20)
    b.expect("matched", 20)  # from here on b never reads
    sdp = "v=0\r\n" + "a=x-filler:" + "y" * 60_000 + "\r\n"
    signal = json.dumps({"type": "signal", "data": {"description": {"type": "offer",
                                                                     "sdp": sdp}}}).encode()
    before = vm_rss_kib(server.process.pid)
    sent = 0
    while sent < 40 << 20:  # 40 MB toward b, as fast as a may send
        a.send_raw(signal)
        sent += len(signal)
        if select.select([a.sock], [], [], 0)[0]:
            break  # the server spoke to a: b is gone
    assert a.expect("partner_reconnecting", 20) == {"type": "partner_reconnecting"}
    grown_kib = vm_rss_kib(server.process.pid) - before
    assert sent < 8 << 20, sent  # b was dropped after a few MB, not after 40
    assert grown_kib < 8 * 1024, grown_kib
    b.sock.settimeout(10)
    try:
        while b.sock.recv(1 << 20):
            pass  # what the kernel still held for b, then the end
    except ConnectionResetError:
        pass  # the server aborted the connection
    a.close()


async def test_the_embedded_layer_does_raise_channel_full() -> None:
    """Why `send_to` keeps its ChannelFull handler (issue 14 thought no layer raises it)."""
    layer = InMemoryChannelLayer(capacity=1)
    await layer.send("specific.x!y", {"type": "chat.typing"})
    with pytest.raises(ChannelFull):
        await layer.send("specific.x!y", {"type": "chat.typing"})
