"""The yardstick: a minimal asyncio WebSocket relay with no framework.

It speaks the frames of /ws/chat/ that the benchmarks use (PROTOCOL.md section 2): `welcome`
on connect, `find` -> `searching` / `matched` (pairing in memory, first come first paired),
`message` relayed to the partner and acknowledged to the sender, `leave` -> `ended` /
`partner_left`, `cancel`, `ping`. No accounts, no database, no Redis, one process: whatever
the real relay costs above this is the price of the framework and of sharing state.

    python bench/bare_relay.py --port 9600
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import signal
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, Protocol

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

MAX_TEXT = 2000


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Conversation:
    id: str
    members: list[Peer]
    seq: itertools.count = field(default_factory=lambda: itertools.count(1))


class Socket(Protocol):
    """What the relay needs of a connection: the websockets one, or bench/asgi_relay.py's."""

    async def send(self, message: str) -> None: ...
    def __aiter__(self) -> AsyncIterator[str | bytes]: ...


@dataclass(eq=False)
class Peer:
    ws: Socket
    handle: str
    conversation: Conversation | None = None

    def partner(self) -> Peer | None:
        if self.conversation is None:
            return None
        return next((p for p in self.conversation.members if p is not self), None)

    async def send(self, frame: dict[str, Any]) -> None:
        try:
            await self.ws.send(json.dumps(frame, ensure_ascii=False))
        except ConnectionClosed:
            pass


class Relay:
    def __init__(self) -> None:
        self.waiting: dict[str, Peer] = {}  # mode -> the one peer waiting
        self.handles = itertools.count(1)

    async def handle(self, ws: Socket) -> None:
        peer = Peer(ws, f"Bare{next(self.handles)}")
        await peer.send({"type": "welcome", "handle": peer.handle, "keeps_history": False})
        try:
            async for raw in ws:
                await self.on_frame(peer, raw)
        except ConnectionClosed:
            pass
        finally:
            self.unqueue(peer)
            await self.end(peer, "disconnected", tell_self=False)

    def unqueue(self, peer: Peer) -> bool:
        for mode, waiting in list(self.waiting.items()):
            if waiting is peer:
                del self.waiting[mode]
                return True
        return False

    async def on_frame(self, peer: Peer, raw: str | bytes) -> None:
        try:
            frame = json.loads(raw)
            kind = frame["type"]
        except (ValueError, TypeError, KeyError):
            await peer.send({"type": "error", "code": "bad_frame", "detail": "not a frame"})
            return
        if kind == "message":
            await self.on_message(peer, frame)
        elif kind == "find":
            await self.on_find(peer, frame.get("mode", "text"))
        elif kind == "leave":
            if peer.conversation is None:
                await peer.send({"type": "error", "code": "not_in_conversation"})
            else:
                await self.end(peer, "left", tell_self=True)
        elif kind == "cancel":
            self.unqueue(peer)
            await peer.send({"type": "cancelled"})
        elif kind == "ping":
            await peer.send({"type": "pong"})
        else:
            await peer.send({"type": "error", "code": "bad_frame", "detail": "unknown type"})

    async def on_find(self, peer: Peer, mode: str) -> None:
        if peer.conversation is not None or peer in self.waiting.values():
            await peer.send({"type": "error", "code": "already_searching"})
            return
        await peer.send({"type": "searching", "mode": mode})
        other = self.waiting.pop(mode, None)
        if other is None:
            self.waiting[mode] = peer
            return
        conversation = Conversation(str(uuid.uuid4()), [other, peer])
        other.conversation = peer.conversation = conversation
        for me, them, initiator in ((other, peer, True), (peer, other, False)):
            await me.send({"type": "matched", "conversation": conversation.id, "mode": mode,
                           "partner": {"handle": them.handle, "keeps_history": False},
                           "common_interests": [], "initiator": initiator,
                           "ice_servers": []})

    async def on_message(self, peer: Peer, frame: dict[str, Any]) -> None:
        partner = peer.partner()
        text = frame.get("text")
        if partner is None:
            await peer.send({"type": "error", "code": "not_in_conversation"})
            return
        if not isinstance(text, str) or not text.strip():
            await peer.send({"type": "error", "code": "bad_frame", "detail": "text"})
            return
        if len(text.strip()) > MAX_TEXT:
            await peer.send({"type": "error", "code": "too_long"})
            return
        conversation = peer.conversation
        line = {"type": "message", "id": f"{conversation.id}.{next(conversation.seq)}",
                "text": text.strip(), "ts": now_iso(), "filtered": False}
        await partner.send({**line, "client_id": None, "from": "partner"})
        await peer.send({**line, "client_id": frame.get("client_id"), "from": "me"})

    async def end(self, peer: Peer, reason: str, tell_self: bool) -> None:
        conversation, partner = peer.conversation, peer.partner()
        if conversation is None:
            return
        for member in conversation.members:
            member.conversation = None
        if partner is not None:
            await partner.send({"type": "partner_left", "reason": reason})
        if tell_self:
            await peer.send({"type": "ended", "conversation": conversation.id})


def health_check(connection: ServerConnection, request: Any) -> Any:
    if request.path == "/healthz":
        return connection.respond(HTTPStatus.OK, "ok\n")
    return None


async def main(port: int) -> None:
    relay = Relay()
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with serve(relay.handle, "127.0.0.1", port, process_request=health_check,
                     compression=None, max_queue=None, ping_interval=None):
        await stop


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=9600)
    asyncio.run(main(parser.parse_args().port))
