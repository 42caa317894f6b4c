"""Keeping a user safe from the socket (PROTOCOL.md section 2): `report` and `block` of the
current or last partner, and a moderator's ban or mute reaching the socket at once. The
decisions themselves live in `moderation.reports` and `chat.conversations`."""
from __future__ import annotations

from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from django.conf import settings

from chat import conversations, history
from chat.live import contacts as contacts_live
from chat.live.socket import Socket, in_db
from chat.protocol import FrameError
from moderation.reports import ReportError, evidence_from, file_report

CLOSE_FORBIDDEN = 4003


async def on_block(socket: Socket, frame: dict[str, Any]) -> None:
    conversation_id, partner_id = socket.current_or_last_partner()
    await in_db(conversations.block_user, socket.user_id, partner_id, conversation_id)
    await contacts_live.conversation_spoiled(conversation_id)  # the block ends a contact
    conversation = socket.conversation
    if conversation and conversation.id == conversation_id:
        await conversation.end("blocked")
        await socket.send_frame({"type": "ended", "conversation": conversation_id})
    await socket.send_frame({"type": "blocked"})


async def on_report(socket: Socket, frame: dict[str, Any]) -> None:
    conversation_id, partner_id = socket.current_or_last_partner()
    await socket.check_rate("reports", settings.REPORT_RATE_LIMIT)
    evidence = await evidence_of(socket, conversation_id)
    try:
        report = await in_db(file_report, socket.user_id, partner_id, conversation_id,
                             frame["reason"], frame["note"], evidence)
    except ReportError as error:
        raise FrameError("bad_frame", str(error)) from None
    await contacts_live.conversation_spoiled(conversation_id)
    if socket.conversation and socket.conversation.id == conversation_id:
        socket.conversation.reported = True  # its kept copy will say so when it ends
    elif socket.keeps_history:
        await history.conversation_closed(socket.user_id, conversation_id, "reported")
    await socket.send_frame({"type": "reported", "report": report.pk})


async def evidence_of(socket: Socket, conversation_id: str) -> list[dict[str, Any]]:
    """The conversation's last lines as the reporter saw them, while the log has them."""
    lines = await socket.store.lines_after(conversation_id, 0)
    _, partner_id = socket.current_or_last_partner()
    conversation = socket.conversation
    partner_handle = (conversation.partner.handle
                      if conversation and conversation.id == conversation_id
                      else socket.last_partner_handle)
    return evidence_from(lines, {socket.user_id: socket.handle, partner_id: partner_handle})


async def on_banned(socket: Socket, event: dict[str, Any]) -> None:
    """A moderator banned this user: effective at once, whichever process decided."""
    if socket.conversation:
        await socket.conversation.end("banned")
    await socket.send_frame({"type": "banned", "until": event.get("until"),
                             "reason": event.get("reason", "")})
    await socket.close(CLOSE_FORBIDDEN)


async def on_muted(socket: Socket, event: dict[str, Any]) -> None:
    until = event.get("until")
    socket.muted_until = (datetime.fromisoformat(until.replace("Z", "+00:00")) if until
                          else datetime.max.replace(tzinfo=UTC))


FRAMES = MappingProxyType({"report": on_report, "block": on_block})
EVENTS = MappingProxyType({"chat.banned": on_banned, "chat.muted": on_muted})
