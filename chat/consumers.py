"""The live socket `/ws/chat/` (PROTOCOL.md section 2): a router.

The consumer admits a socket (login, bans, the per-address limit, one socket per account),
keeps its state in a `chat.live.socket.Socket`, and routes each client frame and each
channel-layer event through `FRAMES` and `EVENTS` to the handler modules of `chat.live`
(searching, lines, safety, resume, ending) and `chat.live.contacts` (section 5). A handler's
failure never ends the socket; a refused frame gets its error and, unless the refusal is the
server's own state, a strike.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Any

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from django.conf import settings

from accounts.activity import mark_seen
from accounts.addresses import socket_address
from chat import lifecycle
from chat.live import contacts as contacts_live
from chat.live import ending, lines, resume, safety, searching
from chat.live.loop import SocketLoopConsumer
from chat.live.socket import CLOSE_FLOODING, Socket, Unavailable, in_db, log_failure
from chat.matching import get_matcher
from chat.protocol import FrameError, parse_frame
from chat.relay import to_json
from chat.store import get_store
from moderation.bans import BAN_MARKER_COOKIE, active_mute, banned_frame, door_refusal

log = logging.getLogger(__name__)

CLOSE_NOT_LOGGED_IN = ending.CLOSE_NOT_LOGGED_IN
CLOSE_FORBIDDEN = safety.CLOSE_FORBIDDEN
CLOSE_TRY_AGAIN_LATER = lifecycle.CLOSE_TRY_AGAIN_LATER
# Refusals that are the server's own state, not the client's doing, and cost no strike.
NO_STRIKE_CODES = frozenset({"rate_limited", "unavailable", "internal"})
# Frames whose handler checks the sender's rate in the same Redis step as its work.
SELF_RATED = frozenset({"message", "find"})
INTERNAL_ERROR = MappingProxyType({
    "type": "error", "code": "internal",
    "detail": "the server could not handle that frame; nothing changed"})

Handler = Callable[[Socket, dict[str, Any]], Awaitable[None]]


async def on_ping(socket: Socket, frame: dict[str, Any]) -> None:
    await socket.send_frame({"type": "pong"})


MODULES = (searching, lines, safety, resume, ending, contacts_live)
FRAMES: Mapping[str, Handler] = MappingProxyType({"ping": on_ping} | {
    kind: handler for module in MODULES for kind, handler in module.FRAMES.items()})
EVENTS: Mapping[str, Handler] = MappingProxyType({
    kind: handler for module in MODULES for kind, handler in module.EVENTS.items()})


class ChatConsumer(SocketLoopConsumer):
    socket: Socket | None = None
    closed_by_server = False

    async def dispatch(self, message: dict[str, Any]) -> None:
        # channels closes stale database connections before every frame and event, a hop to
        # the sync thread each time; database_sync_to_async does it for the calls that use
        # the database, so the relay path skips it.
        kind = message["type"]
        if kind.startswith("websocket."):
            handler = getattr(self, get_handler_name(message))
        elif kind in EVENTS:
            handler = self.route_event
        else:
            raise ValueError(f"no handler for message type {kind}")
        try:
            await handler(message)
        except StopConsumer:
            raise
        except Exception as error:
            # An exception here would end the application: daphne closes the socket with 1011
            # and never delivers its disconnect, so nothing the socket holds is given back.
            log_failure(kind, error)
            await self.after_failure(kind)

    async def after_failure(self, kind: str) -> None:
        if kind == "websocket.disconnect":
            raise StopConsumer
        try:
            if kind == "websocket.connect":
                await self.close(code=CLOSE_TRY_AGAIN_LATER)
            elif self.socket and not self.socket.closing:
                await self.socket.send_frame(dict(INTERNAL_ERROR))
        except Exception as error:
            log_failure("error frame", error)

    async def close(self, code: int | None = None, reason: str | None = None) -> None:
        self.closed_by_server = True
        await super().close(code=code, reason=reason)

    async def connect(self) -> None:
        user = self.scope.get("user")
        await self.accept()
        if self.scope.get("database_unavailable"):
            await self.close(code=CLOSE_TRY_AGAIN_LATER)
            return
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_NOT_LOGGED_IN)
            return
        address = socket_address(self.scope)
        try:
            # The same ban check as every other door: the account's own ban, or a ban it was
            # made to get around (the browser's ban marker, the address; moderation.bans).
            ban = await in_db(door_refusal, user.id, user.date_joined, address,
                              (self.scope.get("cookies") or {}).get(BAN_MARKER_COOKIE))
            muted_until = await in_db(active_mute, user.id)
        except Unavailable:
            await self.close(code=CLOSE_TRY_AGAIN_LATER)
            return
        if ban:
            await self.send(text_data=to_json(banned_frame(ban)))
            await self.close(code=CLOSE_FORBIDDEN)
            return
        socket = Socket(self, address, get_store(), get_matcher(), muted_until)
        if not await socket.store.add_address_socket(address, self.channel_name,
                                                     settings.MAX_SOCKETS_PER_ADDRESS):
            await socket.send_frame({"type": "error", "code": "rate_limited",
                                     "detail": "too many connections from your address",
                                     "retry_after": 60})
            await socket.store.remove_address_socket(address, self.channel_name)
            await self.close(code=CLOSE_FLOODING)
            return
        self.socket = socket
        lines.here()[self.channel_name] = socket  # a partner in this process hands lines over
        replaced = await socket.store.claim_socket(socket.user_id, self.channel_name)
        if replaced:
            await socket.send_to(replaced, {"type": "chat.replaced"})
        lifecycle.register(socket, socket.store)
        try:
            await in_db(mark_seen, socket.user_id)
        except Unavailable:
            pass
        await searching.connected(socket)  # what a `find` needs of the user, read once
        await socket.send_frame({"type": "welcome", "handle": socket.handle,
                                 "keeps_history": socket.keeps_history})
        try:  # presence and pending offers are a courtesy: never fail the socket
            await contacts_live.connected(socket)
        except Exception:
            log.warning("contacts hook failed", exc_info=True)

    async def disconnect(self, code: int) -> None:
        """Give back all the socket holds: queue entry, conversation, claim, address place,
        lifecycle registration. Each step runs even when an earlier one failed, and the whole
        runs to its end even when daphne cancels the application meanwhile."""
        if self.socket is None:
            return  # refused before it held anything
        lines.here().pop(self.channel_name, None)
        self.socket.closing = True
        self.socket.stop_all_tasks()
        await asyncio.shield(self.give_back(self.socket, code))

    async def give_back(self, socket: Socket, code: int) -> None:
        steps = [
            lambda: searching.leave_queue(socket),
            lambda: ending.socket_closed(socket, code, self.closed_by_server),
            lambda: socket.store.release_socket(socket.user_id, self.channel_name),
            lambda: contacts_live.disconnected(socket),  # contacts see it go
            lambda: socket.store.remove_address_socket(socket.address, self.channel_name),
        ]
        for step in steps:
            try:
                await step()
            except Exception as error:
                log_failure("disconnect", error)
        lifecycle.unregister(socket)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        socket = self.socket
        if socket is None:
            return  # refused at connect and closing: nothing to answer
        try:
            frame = parse_frame(text_data)
            # A line's rate is checked with its acceptance, a find's in its pairing step.
            if frame["type"] not in SELF_RATED:
                await socket.check_rate("frames", settings.FRAME_RATE_LIMIT)
            await FRAMES[frame["type"]](socket, frame)
        except FrameError as error:
            if not socket.closing:
                await socket.send_frame(error.frame())
            if error.code not in NO_STRIKE_CODES:
                await socket.strike()
        except Unavailable:
            await socket.send_frame({"type": "error", "code": "unavailable",
                                     "detail": "the service is briefly unavailable; try again"})

    async def route_event(self, event: dict[str, Any]) -> None:
        if self.socket is not None:
            await EVENTS[event["type"]](self.socket, event)
