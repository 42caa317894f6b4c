"""The Redis channel layer publishes in batches (issue 16): the events a process sends to
sockets of other processes go to Redis together, one pipeline per batch, in the order they
were sent; `send` waits for its batch's answer, `send_nowait` does not; what cannot be
published is lost (at most once), never held without bound."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio as aioredis
from channels.exceptions import ChannelFull

from chatsite.plumbing import layers
from chatsite.settings import redis_channel_layer


def layer_on(url: str) -> layers.ProcessPubSubLayer:
    return layers.ProcessPubSubLayer(**redis_channel_layer(url)["CONFIG"])


async def subscribed(url: str, receiver: layers.ProcessPubSubLayer) -> str:
    """A channel of `receiver` (another process, for the sender), once Redis knows it."""
    channel = await receiver.new_channel()
    client = aioredis.Redis.from_url(url)
    try:
        for _ in range(100):
            if dict(await client.pubsub_numsub(channel)).get(channel.encode()):
                return channel
            await asyncio.sleep(0.01)
    finally:
        await client.aclose()
    raise AssertionError("the channel never got its subscription")


async def received(receiver: layers.ProcessPubSubLayer, channel: str, count: int
                   ) -> list[dict[str, Any]]:
    return [await asyncio.wait_for(receiver.receive(channel), 5) for _ in range(count)]


@pytest.fixture
def batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of each batch the layers publish."""
    sizes: list[int] = []
    original = layers.Publisher._send

    async def send(self: layers.Publisher, batch: list[Any]) -> None:
        sizes.append(len(batch))
        await original(self, batch)

    monkeypatch.setattr(layers.Publisher, "_send", send)
    return sizes


async def test_events_to_another_process_go_in_batches_in_order(
        redis_url: str, batches: list[int]) -> None:
    sender, receiver = layer_on(redis_url), layer_on(redis_url)
    channel = await subscribed(redis_url, receiver)
    for n in range(200):  # sent in one turn of the loop, as by many sockets under load
        sender.send_nowait(channel, {"type": "chat.line", "n": n})
    await sender.send(channel, {"type": "chat.line", "n": 200})  # after them, waiting
    events = await received(receiver, channel, 201)
    assert [event["n"] for event in events] == list(range(201))
    assert sum(batches) == 201 and len(batches) <= 2  # not one round trip each
    await sender.flush()
    await receiver.flush()


async def test_send_waits_for_redis_and_send_nowait_does_not(
        redis_url: str, batches: list[int]) -> None:
    # A Redis that nobody listens on: a port taken and closed again.
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    sender = layer_on(f"redis://127.0.0.1:{port}/0")
    sender.send_nowait("asgi0specific.elsewhere!x", {"type": "chat.line"})  # no error
    with pytest.raises(Exception, match="onnect"):  # the batch's error reaches the sender
        await sender.send("asgi0specific.elsewhere!x", {"type": "chat.typing"})
    assert batches == [2]  # both went, in one batch
    await sender.flush()


async def test_events_beyond_the_buffer_are_dropped_not_held(
        redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHANNEL_PUBLISH_BUFFER", "5")
    sender, receiver = layer_on(redis_url), layer_on(redis_url)
    channel = await subscribed(redis_url, receiver)
    for n in range(8):
        sender.send_nowait(channel, {"type": "chat.line", "n": n})
    with pytest.raises(ChannelFull):
        await sender.send(channel, {"type": "chat.typing"})
    events = await received(receiver, channel, 5)
    assert [event["n"] for event in events] == [0, 1, 2, 3, 4]
    await sender.send(channel, {"type": "chat.line", "n": 8})  # room again once sent
    assert (await received(receiver, channel, 1))[0]["n"] == 8
    await sender.flush()
    await receiver.flush()
