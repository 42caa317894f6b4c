"""A line's way to the partner (issue 16): handed to the partner's conversation directly when
its socket is in this process, through the channel layer when it is not; and queued for
analysis as the very ciphertext the live log holds, from which the worker reads what was said.
"""
from __future__ import annotations

from typing import Any

import pytest
import redis
from channels.layers import get_channel_layer
from chatsockets import close_all, pair

from chat.live import lines
from chat.store import get_store
from moderation.analysis import PENDING_KEY, PendingLine, flush_relayed
from tests.keeping import backend  # noqa: F401 - a fixture: the embedded default, then Redis

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def events_sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The types of the events sockets send through the channel layer (waiting for Redis's
    answer or not)."""
    sent: list[str] = []
    layer_class = type(get_channel_layer())
    original = layer_class.send

    async def send(self: Any, channel: str, message: dict[str, Any]) -> None:
        sent.append(message["type"])
        await original(self, channel, message)

    monkeypatch.setattr(layer_class, "send", send)
    original_nowait = getattr(layer_class, "send_nowait", None)
    if original_nowait is not None:  # the Redis layer's send without waiting for Redis
        def send_nowait(self: Any, channel: str, message: dict[str, Any]) -> None:
            sent.append(message["type"])
            original_nowait(self, channel, message)

        monkeypatch.setattr(layer_class, "send_nowait", send_nowait)
    return sent


def channel_of(client: Any) -> str:
    return next(channel for channel, socket in lines.here().items()
                if socket.user_id == client.user.id)


async def talk(a: Any, b: Any, count: int) -> None:
    for n in range(count):
        await a.send({"type": "message", "text": f"line {n}", "client_id": f"a-{n}"})
        assert (await a.expect("message"))["client_id"] == f"a-{n}"
        got = await b.expect("message")
        assert (got["from"], got["text"]) == ("partner", f"line {n}")


@pytest.mark.usefixtures("backend")
async def test_a_partner_in_this_process_gets_lines_without_the_channel_layer(
        events_sent: list[str]) -> None:
    a, b, _, _ = await pair()
    events_sent.clear()
    await talk(a, b, 3)
    await talk(b, a, 3)
    assert "chat.line" not in events_sent
    await close_all(a, b)


@pytest.mark.usefixtures("backend")
async def test_a_partner_elsewhere_gets_lines_through_the_channel_layer(
        events_sent: list[str]) -> None:
    a, b, _, _ = await pair()
    # As if b's socket lived in another process: a cannot reach it directly.
    b_socket = lines.here().pop(channel_of(b))
    events_sent.clear()
    await talk(a, b, 3)
    assert events_sent.count("chat.line") == 3
    lines.here()[b_socket.channel_name] = b_socket
    await close_all(a, b)


@pytest.mark.usefixtures("backend")
async def test_a_closed_partner_is_no_longer_reachable_directly() -> None:
    a, b, _, _ = await pair()
    channel = channel_of(b)
    await b.close()
    assert channel not in lines.here()
    await close_all(a)


async def test_analysis_gets_the_logs_own_ciphertext_and_reads_what_was_said(
        redis_live: str, settings) -> None:  # noqa: ANN001
    settings.ANALYSIS_ENABLED = True
    settings.ANALYSIS_TRIGGER_MS = 0
    settings.ANALYSIS_ENQUEUE_TIMEOUT_MS = 10_000
    client = redis.Redis.from_url(redis_live, decode_responses=True)
    client.delete(PENDING_KEY)
    a, b, matched, _ = await pair()
    said = ["call me at 555 123 4567", "hello there"]
    for text in said:
        await a.send({"type": "message", "text": text, "client_id": "x"})
        await a.expect("message")
        await b.expect("message")
    await flush_relayed()
    queued = [PendingLine.decode(raw) for raw in client.lrange(PENDING_KEY, 0, -1)]
    log = client.lrange(f"live:log:{matched['conversation']}", 0, -1)
    client.close()
    assert [line.text() for line in queued] == said  # before masking: what was said
    assert "555" not in str(queued) and "hello" not in str(queued)
    # One encryption per line: the queue holds the log's entries themselves.
    assert [f"{line.seq}|{line.sealed}" for line in queued] == log
    assert [line["text"] for line in await get_store().lines_after(matched["conversation"], 0)
            ] == ["call me at *** *** ****", "hello there"]
    await close_all(a, b)
