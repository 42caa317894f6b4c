"""The channel layer with Redis: pub/sub, with channel names that name their server process.

Pub/sub delivers an event with one PUBLISH and pushes it to the receiving process, where
channels-redis's list-based layer spends several round trips per event and shares one
bounded queue among all of a process's sockets. Delivery is at most once; lines never depend
on it alone, because every line is in its conversation's log (`chat.store`) and a side that
misses one fills the gap from there.

An event for another process joins its shard's outgoing batch (`Publisher`), and the batch
goes as one pipeline of PUBLISHes, one write to Redis's socket (on the event loop's lean
connection, `plumbing.resp`), with one batch on its way at
a time: `send` waits for its batch's answer, `send_nowait` (a line to its partner) does not.
channels-redis's own `publish` awaits one round trip per event under a lock, so that under
load every event of a process queued behind the others' round trips: two processes carried
a third of what one does, their CPUs half idle. Batches leave one after the other on one
connection, so the events to one channel keep their order; an event that cannot be
published (Redis unreachable, or more than `CHANNEL_PUBLISH_BUFFER` waiting) is lost and
logged, which at most once allows.
"""
import asyncio
import logging
import uuid
import weakref
from typing import Any

from channels.exceptions import ChannelFull
from channels_redis.pubsub import (
    RedisPubSubChannelLayer,
    RedisPubSubLoopLayer,
    RedisSingleShardConnection,
)
from channels_redis.utils import _wrap_close

from chatsite.plumbing.runtime import runtime

PROCESS_ID = uuid.uuid4().hex

log = logging.getLogger(__name__)


class Publisher:
    """The outgoing events of one shard in one event loop, published in batches (a group
    commit, as `chat.store.ScriptBatch` does for lines): events sent while a batch is on its
    way wait for its answer and then go together, so batches grow with the load by
    themselves; a lone event, with nothing on its way, goes at the end of the loop turn it
    was sent in."""

    def __init__(self, shard: RedisSingleShardConnection, limit: int) -> None:
        self.shard = shard
        self.limit = limit
        # (channel, serialized event, the sender's future when it waits for the answer)
        self.pending: list[tuple[str, bytes, asyncio.Future | None]] = []
        self.busy = False  # a batch is on its way, or about to leave

    def publish(self, channel: str, data: bytes, confirm: bool) -> asyncio.Future | None:
        """Queue the event for the next batch; with `confirm`, a future that the batch's
        answer settles (None, or the error that kept the batch from Redis)."""
        if len(self.pending) >= self.limit:
            if confirm:
                raise ChannelFull(f"{len(self.pending)} events wait to be published")
            log.warning("channel layer: %d events wait to be published, one dropped",
                        len(self.pending))
            return None
        loop = asyncio.get_running_loop()
        future = loop.create_future() if confirm else None
        self.pending.append((channel, data, future))
        if not self.busy:
            self.busy = True
            loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        if not self.pending:
            self.busy = False
            return
        batch, self.pending = self.pending, []
        asyncio.get_running_loop().create_task(self._send(batch))

    async def _send(self, batch: list[tuple[str, bytes, asyncio.Future | None]]) -> None:
        error: BaseException | None = None
        try:
            address = self.shard.host.get("address")
            if address:
                # The loop's lean connection to the shard's Redis (`plumbing.resp`): the
                # batch's PUBLISHes in one write, for a third of redis-py's CPU.
                await runtime().lean_redis(address).execute_many(
                    [("PUBLISH", channel, data) for channel, data, _ in batch])
            else:
                # A shard given by host and port or by sentinels: its own client, as its
                # `publish` uses it.
                self.shard._ensure_redis()
                async with self.shard._redis.pipeline(transaction=False) as pipe:
                    for channel, data, _ in batch:
                        pipe.publish(channel, data)
                    await pipe.execute()
        except Exception as failed:  # noqa: BLE001 - each waiting sender gets the error
            error = failed
            log.warning("channel layer: %d events not published: %r", len(batch), error)
        except asyncio.CancelledError as cancelled:
            # The loop is ending: whoever waits learns the batch did not go, as far as known.
            error = cancelled
            raise
        finally:
            for _, _, future in batch:
                if future is not None and not future.done():
                    if error is None:
                        future.set_result(None)
                    elif isinstance(error, asyncio.CancelledError):
                        future.cancel()
                    else:
                        future.set_exception(error)
            if isinstance(error, asyncio.CancelledError):
                self.busy = False  # no new task in an ending loop; the next event sends
            else:
                self._flush()  # what gathered meanwhile, together


class ProcessShard(RedisSingleShardConnection):
    """channels-redis's connection to one Redis, whose reader waits for the next message
    without a timer: channels-redis reads each message with a 0.1 s timeout, which wraps
    every read in an `asyncio.timeout` (a timer armed and cancelled per event), the largest
    cost of its reader once events come in thousands a second."""

    async def _do_receiving(self) -> None:
        while True:
            try:
                if self._pubsub and self._pubsub.subscribed:
                    message = await self._pubsub.get_message(ignore_subscribe_messages=True,
                                                             timeout=None)
                    self._receive_message(message)
                else:
                    await asyncio.sleep(0.1)
            except (TimeoutError, asyncio.CancelledError, GeneratorExit):
                raise
            except BaseException:  # noqa: BLE001 - as channels-redis's reader: go on
                log.exception("channel layer: receiving failed")
                await asyncio.sleep(1)


class ProcessPubSubLayer(RedisPubSubChannelLayer):
    """Channel names shaped `...specific.<process>!<socket>`, as `chat.store.process_of`
    reads them to tell whether a partner's process is still alive."""

    def __init__(self, *args: Any, publish_buffer: int = 10_000, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Events of one process waiting for their batch, at most (CHANNEL_PUBLISH_BUFFER): a
        # Redis that stops answering must not make a process hold every event it is sent.
        self.publish_buffer = publish_buffer
        # One publisher per shard of each event loop's layer (a layer is per loop).
        self._publishers: weakref.WeakKeyDictionary[
            RedisSingleShardConnection, Publisher] = weakref.WeakKeyDictionary()

    def _get_layer(self) -> RedisPubSubLoopLayer:
        """channels-redis's layer of the running loop, its shards with `ProcessShard`'s
        reader (made as channels-redis makes it, then its shards replaced while unused)."""
        loop = asyncio.get_running_loop()
        layer = self._layers.get(loop)
        if layer is None:
            layer = RedisPubSubLoopLayer(*self._args, **self._kwargs, channel_layer=self)
            layer._shards = [ProcessShard(shard.host, layer) for shard in layer._shards]
            self._layers[loop] = layer
            _wrap_close(self, loop)
        return layer

    async def new_channel(self, prefix: str = "specific.") -> str:
        return await self._get_layer().new_channel(f"{prefix}{PROCESS_ID}!")

    async def receive(self, channel: str) -> dict[str, Any]:
        # Defined here rather than reached through channels-redis's `__getattr__` proxy: a
        # partial and a coroutine fewer for every event a socket receives.
        return await self._get_layer().receive(channel)

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        layer = self._get_layer()
        queue = layer.channels.get(channel)
        if queue is not None:
            # The receiving socket lives in this process: hand the event over without the
            # round trip through Redis, in the serialized form its receive expects.
            queue.put_nowait(self.serialize(message))
            return
        future = self._publisher(layer, channel).publish(channel, self.serialize(message),
                                                          confirm=True)
        if future is not None:
            await future

    def send_nowait(self, channel: str, message: dict[str, Any]) -> None:
        """`send` without waiting for Redis's answer, for the live path's events (a line to
        its partner): the event is queued for its batch, or handed over at once to a socket
        of this process. Only a running event loop that outlives the call may use it (not
        `async_to_sync`, whose loop ends, and cancels the batch, as the call returns)."""
        layer = self._get_layer()
        queue = layer.channels.get(channel)
        if queue is not None:
            queue.put_nowait(self.serialize(message))
            return
        self._publisher(layer, channel).publish(channel, self.serialize(message), confirm=False)

    def _publisher(self, layer: Any, channel: str) -> Publisher:
        shard = layer._get_shard(channel)
        publisher = self._publishers.get(shard)
        if publisher is None:
            publisher = self._publishers[shard] = Publisher(shard, self.publish_buffer)
        return publisher
