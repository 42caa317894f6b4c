"""A bound on what the server holds for one socket whose client does not read.

Frames a consumer sends go through daphne to autobahn, which writes them to the Twisted
transport; a client that stops reading fills the kernel's socket buffer, and from then on
every frame waits in the transport's own buffer (`dataBuffer` and `_tempDataBuffer`), in the
process's memory, without limit. After each frame sent, the socket whose transport holds more
than `SEND_BUFFER_MAX_BYTES` is dropped (a TCP abort, which also frees the buffer): nothing
sent to it could reach it anyway. Its consumer gets the disconnect as for any dropped socket
(code 1006), so the partner sees the contract's reconnecting path, and a client that was only
slow reconnects and resumes.
"""
from __future__ import annotations

import logging
from typing import Any

from daphne.ws_protocol import WebSocketProtocol
from django.conf import settings

log = logging.getLogger(__name__)


def buffered_bytes(transport: Any) -> int:
    """Bytes a Twisted TCP transport holds that the kernel has not taken yet."""
    data = getattr(transport, "dataBuffer", b"")
    return (len(data) - getattr(transport, "offset", 0)
            + getattr(transport, "_tempDataLen", 0))


def bound_send_buffers() -> None:
    """Wrap daphne's reply handler once per process."""
    if getattr(WebSocketProtocol, "_send_buffer_bounded", False):
        return
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
