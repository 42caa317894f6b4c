"""The black-box contract client's smoke run passes against real daphne processes."""
from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.e2e]


def test_smoke_passes_on_the_embedded_default(start_server: Any) -> None:
    from chatclient import smoke

    smoke(start_server().url)


@pytest.mark.redis
def test_smoke_passes_on_each_of_two_processes_sharing_redis(start_server: Any,
                                                              redis_url: str) -> None:
    from chatclient import smoke

    servers = [start_server(redis_url=redis_url), start_server(redis_url=redis_url)]
    for server in servers:
        smoke(server.url)


@pytest.mark.redis
def test_two_guests_on_different_processes_meet_and_talk(start_server: Any,
                                                         redis_url: str) -> None:
    from chatclient import Socket, guest_session

    one, two = start_server(redis_url=redis_url), start_server(redis_url=redis_url)
    a, b = Socket(one.url, guest_session(one.url)), Socket(two.url, guest_session(two.url))
    a.expect("welcome")
    b.expect("welcome")
    a.send({"type": "find", "mode": "text", "interests": ["Chess"]})
    b.send({"type": "find", "mode": "text", "interests": ["chess "]})
    matched_a, matched_b = a.expect("matched", 20), b.expect("matched", 20)
    assert matched_a["common_interests"] == matched_b["common_interests"] == ["chess"]
    b.send({"type": "message", "text": "across processes", "client_id": "b1"})
    assert b.expect("message")["client_id"] == "b1"
    assert a.expect("message")["text"] == "across processes"
    b.send({"type": "leave"})
    b.expect("ended")
    assert a.expect("partner_left")["reason"] == "left"
    a.close()
    b.close()
