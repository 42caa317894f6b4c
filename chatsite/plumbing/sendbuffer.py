"""A bound on what the server holds for one socket whose client does not read.

Frames a consumer sends go through daphne to autobahn, which writes them to the Twisted
transport; a client that stops reading fills the kernel's socket buffer, and from then on
every frame waits in the transport's own buffer (`dataBuffer` and `_tempDataBuffer`), in the
process's memory, without limit. After each frame sent, the socket whose transport holds more
than `SEND_BUFFER_MAX_BYTES` is dropped (a TCP abort, which also frees the buffer): nothing
sent to it could reach it anyway. Its consumer gets the disconnect as for any dropped socket
(code 1006), so the partner sees the contract's reconnecting path, and a client that was only
slow reconnects and resumes.

The same once-per-process patch of daphne's WebSocket protocol stops autobahn from colouring
the arguments of its debug lines (`hltype`, `hlval`: introspection and terminal styles) for
every frame read and written, debug logging on or off: a few per cent of the relay's CPU.
"""
from __future__ import annotations

import logging
from typing import Any

from autobahn.twisted import websocket as autobahn_twisted
from autobahn.websocket import protocol as autobahn_protocol
from daphne.ws_protocol import WebSocketProtocol
from django.conf import settings

log = logging.getLogger(__name__)


def buffered_bytes(transport: Any) -> int:
    """Bytes a Twisted TCP transport holds that the kernel has not taken yet."""
    data = getattr(transport, "dataBuffer", b"")
    return (len(data) - getattr(transport, "offset", 0)
            + getattr(transport, "_tempDataLen", 0))


def unformatted(value: Any, *args: Any, **kwargs: Any) -> str:
    """autobahn's `hltype`/`hlval` while its debug lines are not logged: nothing to format
    (not even `str`: an object's repr may not work yet, as a protocol's in its handshake)."""
    return ""


def bound_send_buffers() -> None:
    """Wrap daphne's reply handler once per process, and quieten autobahn's per-frame debug
    formatting unless its debug logging is asked for."""
    if getattr(WebSocketProtocol, "_send_buffer_bounded", False):
        return
    if not logging.getLogger("autobahn").isEnabledFor(logging.DEBUG):
        for module in (autobahn_protocol, autobahn_twisted):
            module.hltype = module.hlval = unformatted
    original = WebSocketProtocol.handle_reply

    def handle_reply(self: WebSocketProtocol, message: dict[str, Any]) -> None:
        original(self, message)
        if message.get("type") != "websocket.send" or self.transport is None:
            return
        held = buffered_bytes(self.transport)
        if held > settings.SEND_BUFFER_MAX_BYTES:
            log.warning("a socket held %d unsent bytes; dropping it", held)
            self.dropConnection(abort=True)

    WebSocketProtocol.handle_reply = handle_reply
    WebSocketProtocol._send_buffer_bounded = True
