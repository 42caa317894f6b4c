"""How a conversation or the socket ends, seen from the socket: `leave`, the partner leaving,
stepping away and coming back, the account closed, a newer socket taking over, and what the
socket's own close does to its conversation. Every ending goes through
`chat.live.conversation.Conversation.end`."""
from __future__ import annotations

from types import MappingProxyType
from typing import Any

from chat.live.conversation import PARTNER, Conversation
from chat.live.socket import Socket

CLOSE_NOT_LOGGED_IN = 4001
CLOSE_REPLACED = 4009
# A client's close with 1000 is a goodbye, not a drop (PROTOCOL.md v2, "Reconnecting").
CLOSE_NORMAL = 1000


async def on_leave(socket: Socket, frame: dict[str, Any]) -> None:
    conversation = socket.require_conversation()
    await conversation.end("left")
    await socket.send_frame({"type": "ended", "conversation": conversation.id})


async def socket_closed(socket: Socket, code: int, closed_by_server: bool) -> None:
    """The socket closed: a goodbye ends the conversation, a drop leaves it resumable."""
    conversation = socket.conversation
    if conversation and code == CLOSE_NORMAL and not closed_by_server:
        await conversation.end("left")  # closed on purpose: no grace
    elif conversation:
        await conversation.step_away()
    else:
        # A partner may have paired with this socket just as it closed.
        live = await socket.store.conversation_of(socket.user_id)
        if live and live.members[socket.user_id].channel == socket.channel_name:
            await Conversation(socket, live).end("disconnected")


async def on_partner_left(socket: Socket, event: dict[str, Any]) -> None:
    if conversation := socket.in_conversation(event):
        await conversation.end(event["reason"], by=PARTNER)


async def on_partner_away(socket: Socket, event: dict[str, Any]) -> None:
    if conversation := socket.in_conversation(event):
        await conversation.partner_away()


async def on_partner_back(socket: Socket, event: dict[str, Any]) -> None:
    if conversation := socket.in_conversation(event):
        await conversation.partner_back(event["channel"])


async def on_account_closed(socket: Socket, event: dict[str, Any]) -> None:
    """The user deleted the account: the partner sees an ordinary goodbye."""
    if socket.conversation:
        await socket.conversation.end("left", record_who=False)  # the user row is gone
    await socket.close(CLOSE_NOT_LOGGED_IN)


async def on_replaced(socket: Socket, event: dict[str, Any]) -> None:
    await socket.send_frame({"type": "error", "code": "replaced",
                             "detail": "this account opened a newer socket"})
    await socket.close(CLOSE_REPLACED)


FRAMES = MappingProxyType({"leave": on_leave})
EVENTS = MappingProxyType({
    "chat.partner_left": on_partner_left, "chat.partner_away": on_partner_away,
    "chat.partner_back": on_partner_back, "chat.account_closed": on_account_closed,
    "chat.replaced": on_replaced})
