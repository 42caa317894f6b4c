"""Helpers for the consumer tests: a user's live socket driven through WebsocketCommunicator."""
from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from typing import Any

from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from chat import lifecycle
from chat.consumers import ChatConsumer
from chat.matching import get_matcher
from chat.store import get_store

_handles = itertools.count(1)


@database_sync_to_async
def make_user(prefix: str = "Tester") -> Any:
    from accounts.models import User

    # Everyone who chats has accepted the community rules (accounts.rules).
    return User.objects.create(username=f"{prefix}{next(_handles)}{uuid.uuid4().hex[:4]}",
                               rules_accepted_at=timezone.now())


class Client:
    """One user's socket: sends frames and reads them one at a time, close frames included."""

    def __init__(self, user: Any, communicator: WebsocketCommunicator) -> None:
        self.user = user
        self.communicator = communicator
        self.close_code: int | None = None

    @property
    def handle(self) -> str:
        return self.user.username

    async def send(self, frame: dict[str, Any]) -> None:
        await self.communicator.send_json_to(frame)

    async def send_text(self, text: str) -> None:
        await self.communicator.send_input({"type": "websocket.receive", "text": text})

    async def recv(self, timeout: float = 5) -> dict[str, Any]:
        """The next frame; a close arrives as {"type": "<closed>", "code": ...}."""
        output = await self.communicator.receive_output(timeout)
        if output["type"] == "websocket.close":
            self.close_code = output.get("code")
            return {"type": "<closed>", "code": self.close_code}
        assert output["type"] == "websocket.send", output
        return json.loads(output["text"])

    async def expect(self, kind: str, timeout: float = 5,
                     skip: tuple[str, ...] = ("typing",)) -> dict[str, Any]:
        """The next frame of `kind`, passing over frames of the kinds in `skip`."""
        while True:
            frame = await self.recv(timeout)
            if frame["type"] == kind:
                return frame
            assert frame["type"] in skip, f"wanted {kind!r}, got {frame}"

    async def error(self, timeout: float = 5) -> dict[str, Any]:
        frame = await self.recv(timeout)
        assert frame["type"] == "error", frame
        return frame

    async def silent(self, timeout: float = 0.3) -> bool:
        """True when nothing arrives within `timeout`."""
        return await self.communicator.receive_nothing(timeout)

    async def close(self, code: int = 1006) -> None:
        """Drop the socket (1006, as a lost connection); 1000 is a goodbye that ends the
        conversation at once."""
        try:
            await self.communicator.disconnect(code)
        except (TimeoutError, asyncio.CancelledError):
            pass


async def connect(user: Any = None, prefix: str = "Tester") -> Client:
    """A logged-in user's socket, past its `welcome` frame."""
    user = user or await make_user(prefix)
    communicator = WebsocketCommunicator(ChatConsumer.as_asgi(), "/ws/chat/")
    communicator.scope["user"] = user
    connected, _ = await communicator.connect()
    assert connected
    client = Client(user, communicator)
    welcome = await client.recv()
    assert welcome == {"type": "welcome", "handle": user.username,
                       "keeps_history": user.keeps_history}
    return client


async def find(client: Client, **frame: Any) -> None:
    await client.send({"type": "find", "mode": "text", **frame})
    assert (await client.recv())["type"] == "searching"


async def pair(mode: str = "text", **find_fields: Any
               ) -> tuple[Client, Client, dict[str, Any], dict[str, Any]]:
    """Two fresh users in one conversation: (waited, joined, their `matched` frames)."""
    a, b = await connect(prefix="Alice"), await connect(prefix="Bob")
    return (a, b, *await pair_clients(a, b, mode, **find_fields))


async def pair_clients(a: Client, b: Client, mode: str = "text", **find_fields: Any
                       ) -> tuple[dict[str, Any], dict[str, Any]]:
    await find(a, mode=mode, **find_fields)
    await find(b, mode=mode, **find_fields)
    matched_b = await b.expect("matched")
    matched_a = await a.expect("matched")
    assert matched_a["conversation"] == matched_b["conversation"]
    return matched_a, matched_b


async def close_all(*clients: Client) -> None:
    for client in clients:
        await client.close()


async def held() -> dict[str, int]:
    """What the live state counts right now, by kind."""
    store, matcher = get_store(), get_matcher()
    redis = store._redis()
    addresses = [key async for key in redis.scan_iter("live:address:*")]
    return {
        "address places": sum([await redis.zcard(key) for key in addresses]),
        "socket claims": len([key async for key in redis.scan_iter("live:socket:*")]),
        "live conversations": len([key async for key in redis.scan_iter("live:user-conv:*")]),
        "queue entries": await matcher._redis().hlen(matcher.entries_key),
        "leases": await matcher._redis().zcard(matcher.leases_key),
        "lifecycle": lifecycle.registered(),
    }
