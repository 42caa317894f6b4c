"""An idle socket outlives redis-py's 5 s default socket timeout on the Redis channel layer.

redis-py 8 reads with a 5 s socket timeout unless told otherwise; a consumer then dies with
"Timeout reading from 127.0.0.1:6379" and closes 1011 after five quiet seconds. The layer's
host sets `socket_timeout`; these tests idle longer than that and then still chat.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from chatsockets import close_all, connect, pair_clients

IDLE_SECONDS = 7

pytestmark = [pytest.mark.redis]


@pytest.mark.e2e
def test_idle_sockets_on_two_daphne_processes_still_pair_and_talk(
        start_server: Any, redis_url: str) -> None:
    from chatclient import Socket, guest_session

    servers = [start_server(redis_url=redis_url), start_server(redis_url=redis_url)]
    a = Socket(servers[0].url, guest_session(servers[0].url))
    b = Socket(servers[1].url, guest_session(servers[1].url))
    a.expect("welcome")
    b.expect("welcome")
    time.sleep(IDLE_SECONDS)
    a.send({"type": "find", "mode": "text"})
    b.send({"type": "find", "mode": "text"})
    assert a.expect("matched", 20)["conversation"] == b.expect("matched", 20)["conversation"]
    time.sleep(IDLE_SECONDS)
    a.send({"type": "message", "text": "after a quiet while"})
    assert a.expect("message")["from"] == "me"
    assert b.expect("message")["text"] == "after a quiet while"
    for server in servers:
        assert "Timeout reading" not in server.log()
    a.close()
    b.close()


@pytest.mark.django_db(transaction=True)
async def test_idle_consumers_on_the_redis_layer_still_pair_and_talk(redis_live: str) -> None:
    a, b = await connect(), await connect()
    await asyncio.sleep(IDLE_SECONDS)
    await pair_clients(a, b)
    await a.send({"type": "message", "text": "still awake"})
    assert (await b.expect("message"))["text"] == "still awake"
    await close_all(a, b)
