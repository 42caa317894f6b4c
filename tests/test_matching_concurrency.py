"""Pairing under a burst of simultaneous finds: nobody twice, nobody with themselves, nobody lost.

First straight against Redis with several matchers on their own connections (as several
processes are), then end to end through two real daphne processes sharing Redis.
"""
from __future__ import annotations

import asyncio
import threading
import uuid
from collections import Counter
from typing import Any

import pytest
import redis.asyncio as aioredis

from chat.matching import Pairing, RedisMatcher, Seeker

pytestmark = [pytest.mark.redis]


class ProcessLikeMatcher(RedisMatcher):
    """A RedisMatcher on a connection pool of its own, like one server process has."""

    def __init__(self, url: str, prefix: str) -> None:
        super().__init__(url, prefix=prefix)
        self.client = aioredis.Redis.from_url(url, decode_responses=True)

    def _redis(self) -> aioredis.Redis:
        return self.client


async def test_a_burst_of_100_finds_pairs_everyone_exactly_once(redis_url: str) -> None:
    prefix = f"burst-{uuid.uuid4().hex[:8]}"
    matchers = [ProcessLikeMatcher(redis_url, prefix) for _ in range(4)]
    seekers = [Seeker(user_id=i, channel=f"socket-{i}", mode="text", handle=f"U{i}")
               for i in range(1, 101)]
    try:
        results = await asyncio.gather(*(
            matchers[i % len(matchers)].find_partner(s) for i, s in enumerate(seekers)))
        pairings = [r for r in results if isinstance(r, Pairing)]
        assert all(r is None or isinstance(r, Pairing) for r in results)
        assert len(pairings) == 50
        members = Counter()
        for pairing in pairings:
            assert pairing.seeker.user_id != pairing.waiting.user_id
            members[pairing.seeker.user_id] += 1
            members[pairing.waiting.user_id] += 1
        assert set(members) == {s.user_id for s in seekers}
        assert set(members.values()) == {1}
        # Whoever was queued was taken out by exactly one partner; the queue is empty.
        assert await matchers[0].waiting_count("text") == 0
        raw = matchers[0].client
        assert await raw.zcard(matchers[0].queue_key("text")) == 0
        assert await raw.hlen(matchers[0].entries_key) == 0
    finally:
        for matcher in matchers:
            await matcher.client.aclose()


@pytest.mark.e2e
def test_forty_guests_over_two_daphne_processes_pair_exactly_two_by_two(
        start_server: Any, redis_url: str) -> None:
    from chatclient import Socket, guest_session

    # Every guest here connects from 127.0.0.1.
    servers = [start_server(redis_url=redis_url, MAX_SOCKETS_PER_ADDRESS="1000")
               for _ in range(2)]
    count = 40
    bases = [servers[i % 2].url for i in range(count)]
    sockets = [Socket(base, guest_session(base)) for base in bases]
    handles = [s.expect("welcome")["handle"] for s in sockets]
    assert len(set(handles)) == count

    matched: list[dict | None] = [None] * count
    received: list[list[dict]] = [[] for _ in range(count)]
    errors: list[str] = []
    go = threading.Barrier(count)

    def find(i: int) -> None:
        try:
            go.wait(timeout=30)
            sockets[i].send({"type": "find", "mode": "text"})
            matched[i] = sockets[i].expect("matched", timeout=30)
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(f"{handles[i]}: {error!r}")

    threads = [threading.Thread(target=find, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []

    by_conversation: dict[str, list[int]] = {}
    for i, frame in enumerate(matched):
        by_conversation.setdefault(frame["conversation"], []).append(i)
    assert len(by_conversation) == count // 2
    for conversation, members in by_conversation.items():
        assert len(members) == 2, conversation
        a, b = members
        assert handles[a] != handles[b]
        assert matched[a]["partner"]["handle"] == handles[b]
        assert matched[b]["partner"]["handle"] == handles[a]
        assert sorted([matched[a]["initiator"], matched[b]["initiator"]]) == [False, True]

    # Every user says who it is; each line reaches exactly its partner, once.
    def talk(i: int) -> None:
        try:
            sockets[i].send({"type": "message", "text": f"from {handles[i]}",
                             "client_id": str(i)})
            for _ in range(2):  # the own acknowledgement and the partner's line
                received[i].append(sockets[i].expect("message", timeout=20))
        except Exception as error:  # noqa: BLE001
            errors.append(f"{handles[i]}: {error!r}")

    threads = [threading.Thread(target=talk, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    for i in range(count):
        partner = matched[i]["partner"]["handle"]
        mine = [f for f in received[i] if f["from"] == "me"]
        theirs = [f for f in received[i] if f["from"] == "partner"]
        assert [f["text"] for f in mine] == [f"from {handles[i]}"]
        assert mine[0]["client_id"] == str(i)
        assert [f["text"] for f in theirs] == [f"from {partner}"]
    # Nothing else arrives anywhere (no stray line from another conversation).
    for s in sockets:
        s.send({"type": "ping"})
    for s in sockets:
        assert s.expect("pong", skip=())["type"] == "pong"
    for s in sockets:
        s.close()
