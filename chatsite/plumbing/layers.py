"""The channel layer with Redis: pub/sub, with channel names that name their server process.

Pub/sub delivers an event with one PUBLISH and pushes it to the receiving process, where
channels-redis's list-based layer spends several round trips per event and shares one
bounded queue among all of a process's sockets. Delivery is at most once; lines never depend
on it alone, because every line is in its conversation's log (`chat.store`) and a side that
misses one fills the gap from there.
"""
import uuid
from typing import Any

from channels_redis.pubsub import RedisPubSubChannelLayer

PROCESS_ID = uuid.uuid4().hex


class ProcessPubSubLayer(RedisPubSubChannelLayer):
    """Channel names shaped `...specific.<process>!<socket>`, as `chat.store.process_of`
    reads them to tell whether a partner's process is still alive."""

    async def new_channel(self, prefix: str = "specific.") -> str:
        return await self._get_layer().new_channel(f"{prefix}{PROCESS_ID}!")

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        layer = self._get_layer()
        queue = layer.channels.get(channel)
        if queue is not None:
            # The receiving socket lives in this process: hand the event over without the
            # round trip through Redis, in the serialized form its receive expects.
            queue.put_nowait(self.serialize(message))
            return
        await layer.send(channel, message)
