"""The daphne floor: the bare relay as a raw ASGI application, served by daphne.

The same relay as `bench/bare_relay.py` (same frames, pairing in memory, no accounts, no
database, no Redis), but behind daphne's twisted/autobahn WebSocket server instead of the
`websockets` package, and with no Django and no Channels. What this project costs above it is
the price of Django, Channels and the shared state, not of daphne itself.

    python -m daphne -b 127.0.0.1 -p 9601 bench.asgi_relay:app
"""
from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from bench.bare_relay import Relay

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class AsgiSocket:
    """One ASGI WebSocket connection, as the relay's `Socket`."""

    def __init__(self, receive: Receive, send: Send) -> None:
        self._receive = receive
        self._send = send
        self.open = True

    async def send(self, message: str) -> None:
        if not self.open:
            return
        try:
            await self._send({"type": "websocket.send", "text": message})
        except Exception:  # noqa: BLE001 - a closed peer is not the benchmark's business
            self.open = False

    async def __aiter__(self) -> AsyncIterator[str | bytes]:
        while True:
            event = await self._receive()
            if event["type"] == "websocket.receive":
                yield event.get("text") or event.get("bytes") or b""
            elif event["type"] == "websocket.disconnect":
                self.open = False
                return


class RelayApp:
    """`/healthz` over HTTP, the relay on every WebSocket path."""

    def __init__(self) -> None:
        self.relay = Relay()

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            if (await receive())["type"] != "websocket.connect":
                return
            await send({"type": "websocket.accept"})
            await self.relay.handle(AsgiSocket(receive, send))
        elif scope["type"] == "http":
            found = scope["path"] == "/healthz"
            await send({"type": "http.response.start", "status": 200 if found else 404,
                        "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"ok\n" if found else b""})
        elif scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})


app = RelayApp()
