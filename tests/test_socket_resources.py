"""Every socket gives back all it held, however it ends (issue 11, finding 1).

Fifty sockets close, drop and get closed by the server in every way a client can bring about:
a goodbye (1000), a lost connection (1006), a drop during the handshake, while searching, in a
conversation, after frames that used to kill the application (100,000 levels of nesting),
after garbage until 4008, replaced by a newer socket (4009). Afterwards nothing is counted:
no place in the per-address count, no socket claim, no queue entry or lease, no live
conversation, no lifecycle registration. On the embedded default and on Redis.
"""
from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from chatsockets import Client, connect, find, held, make_user, pair_clients

from chat.consumers import ChatConsumer

pytestmark = pytest.mark.django_db(transaction=True)

DEEP = '{"type": "ping", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"


async def gone(client: Client) -> None:
    """Wait until the server has closed the socket (its application has finished)."""
    while (await client.recv())["type"] != "<closed>":
        pass


async def drop_during_handshake() -> None:
    communicator = WebsocketCommunicator(ChatConsumer.as_asgi(), "/ws/chat/")
    communicator.scope["user"] = await make_user()
    await communicator.send_input({"type": "websocket.connect"})
    await communicator.send_input({"type": "websocket.disconnect", "code": 1006})
    await communicator.wait(5)


async def fifty_endings() -> None:
    for _ in range(5):
        client = await connect()
        await client.close(1000)  # goodbye
        client = await connect()
        await client.close(1006)  # lost connection
        await drop_during_handshake()
        client = await connect()
        await find(client)
        await client.close(1006)  # lost while searching
        a, b = await connect(), await connect()
        await pair_clients(a, b)
        await a.close(1000)  # leaves the conversation by closing
        assert (await b.expect("partner_left"))["reason"] == "left"
        await b.close(1006)
        client = await connect()
        await client.send_text(DEEP)  # once killed the application with 1011
        assert (await client.error())["code"] == "too_long"
        await client.send_text(DEEP[:60_000] + "]" * 29_990 + "}")
        assert (await client.error())["code"] == "bad_frame"
        await client.send({"type": "ping"})
        assert await client.expect("pong") == {"type": "pong"}
        await client.close(1006)
        client = await connect()
        for _ in range(11):  # garbage only: 4008
            await client.send_text("garbage")
        await gone(client)
        assert client.close_code == 4008
        await client.close(4008)
        older = await connect()
        newer = await connect(older.user)  # replaces: the older socket is closed with 4009
        await gone(older)
        assert older.close_code == 4009
        await older.close(4009)
        await newer.close(1000)


async def test_fifty_sockets_end_every_way_and_nothing_stays_counted() -> None:
    await fifty_endings()
    assert await held() == dict.fromkeys(await held(), 0)


@pytest.mark.redis
async def test_fifty_sockets_end_every_way_and_nothing_stays_counted_on_redis(
        redis_live: str) -> None:
    await fifty_endings()
    assert await held() == dict.fromkeys(await held(), 0)


async def test_a_drop_in_a_conversation_keeps_only_the_conversation_for_its_grace(
        settings: Any) -> None:  # noqa: ANN401 - pytest-django's settings
    """A dropped socket's conversation waits for a resume; everything else is given back."""
    settings.RECONNECT_GRACE_SECONDS = 1
    a, b = await connect(), await connect()
    await pair_clients(a, b)
    await a.close(1006)
    assert await b.expect("partner_reconnecting") == {"type": "partner_reconnecting"}
    counts = await held()
    assert counts["socket claims"] == 1 and counts["address places"] == 1  # b's
    assert (await b.expect("partner_left", timeout=5))["reason"] == "disconnected"
    await b.close(1000)
    await asyncio.sleep(0)
    assert await held() == dict.fromkeys(counts, 0)


def test_the_deep_frame_is_what_the_finding_describes() -> None:
    with pytest.raises(RecursionError):
        json.loads(DEEP)
