"""`resume` (PROTOCOL.md v2, "Reconnecting"): a socket that dropped takes its conversation
back within the grace window, with the lines it missed; too late, the conversation ends for
both sides."""
from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from chat import history
from chat.live.conversation import Conversation, grace_ms
from chat.live.socket import Socket
from chat.protocol import FrameError
from chat.relay import message_frame, seq_of


async def on_resume(socket: Socket, frame: dict[str, Any]) -> None:
    conversation_id = frame["conversation"]
    if socket.searching:
        raise FrameError("already_searching", "looking for a partner; cancel first")
    if socket.conversation and socket.conversation.id != conversation_id:
        raise FrameError("already_searching", "already in another conversation")
    after = seq_of(frame["after"], conversation_id)
    if after is None:
        raise FrameError("bad_frame", "after is not a message id of that conversation")
    live = await socket.store.rejoin(conversation_id, socket.user_id, socket.channel_name,
                                     grace_ms())
    if live is None:
        await too_late(socket, conversation_id)
        raise FrameError("not_in_conversation", "that conversation is over")
    conversation = Conversation(socket, live, delivered=after)
    conversation.attach()
    async with socket.delivery_lock:
        missed = await socket.store.lines_after(conversation.id, after)
        ready = [line for logged in missed for line in conversation.delivery.push(logged)]
        ready += conversation.delivery.skip_gap()
        missed_frames = [message_frame(conversation.id, line, socket.user_id)
                         for line in ready]
        await socket.send_frame({**conversation.frame("resumed"), "missed": missed_frames})
        if socket.keeps_history:
            for missed_frame in missed_frames:
                await history.line_seen(socket.user_id, conversation.id, missed_frame)
    await socket.send_to(conversation.partner.channel, {
        "type": "chat.partner_back", "conversation": conversation.id,
        "channel": socket.channel_name})
    if live.partner_of(socket.user_id).away_since_ms is not None:
        await conversation.partner_away()
    conversation.tasks.start("catch_up", conversation.catch_up())


async def too_late(socket: Socket, conversation_id: str) -> None:
    """A resume after the grace window ends the conversation for good, for both sides."""
    live = await socket.store.conversation_of(socket.user_id)
    if live and live.id == conversation_id:
        await Conversation(socket, live).end("disconnected", away=True)


FRAMES = MappingProxyType({"resume": on_resume})
EVENTS: Mapping[str, Any] = MappingProxyType({})
