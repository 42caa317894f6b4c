"""What the two sides say to each other (PROTOCOL.md section 2): `message`, `typing`, `signal`
and `media_state`, from the client and from the partner's socket.

A line's journey: checked (mute, then `filtering.filters`), numbered and logged with the rate
limit in one round trip (`chat.store`), sent to the partner first (the acknowledgement promises
it is on its way), then handed back to the sender as its acknowledgement through the same
ordered delivery (`chat.live.conversation`), which also keeps it in history; finally queued for
analysis (`moderation.analysis`)."""
from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from django.conf import settings

from chat import metrics, webrtc
from chat.live.socket import Socket
from chat.protocol import FrameError
from chat.relay import utc_now_iso
from moderation.analysis import line_relayed
from moderation.filtering.filters import filter_line
from moderation.filtering.harm import SELF_HARM_IDEATION, support_frame


async def on_message(socket: Socket, frame: dict[str, Any]) -> None:
    started = time.perf_counter()
    conversation = socket.require_conversation()
    if socket.muted_until and socket.muted_until > datetime.now(UTC):
        until = socket.muted_until.isoformat().replace("+00:00", "Z")
        raise FrameError("muted", f"a moderator muted you until {until}", until=until)
    filtered = filter_line(frame["text"])
    line = {"sender": socket.user_id, "text": filtered.text, "ts": utc_now_iso(),
            "filtered": filtered.filtered, "client_id": frame["client_id"]}
    if filtered.filtered:
        line["said"] = frame["text"]  # for a moderator's evidence only, never relayed
    # The rate limit and the line's number in one round trip.
    seq, retry_after = await socket.store.accept_line(
        conversation.id, line, f"lines:{socket.user_id}", settings.MESSAGE_RATE_LIMIT)
    if seq is None:
        await socket.refuse_over_limit(retry_after)
    line["seq"] = seq
    line.pop("said", None)  # kept in the encrypted log only
    # The partner's copy goes first: the acknowledgement promises it is on its way.
    await socket.send_to(conversation.partner.channel,
                         {"type": "chat.line", "conversation": conversation.id, "line": line})
    metrics.observe_line(time.perf_counter() - started)
    await conversation.deliver(line)
    if SELF_HARM_IDEATION in filtered.harm:
        await socket.send_frame(support_frame())  # to the speaker only, quietly
    await line_relayed(conversation.id, line["seq"], socket.user_id, frame["text"])


async def on_typing(socket: Socket, frame: dict[str, Any]) -> None:
    conversation = socket.require_conversation()
    await socket.send_to(conversation.partner.channel, {
        "type": "chat.typing", "conversation": conversation.id, "active": frame["active"]})


async def on_signal(socket: Socket, frame: dict[str, Any]) -> None:
    conversation = socket.require_conversation()
    if conversation.mode == "text":
        raise FrameError("bad_frame", "signals belong to voice and video conversations")
    data = webrtc.filter_signal(frame["data"])
    if data is not None:
        await socket.send_to(conversation.partner.channel, {
            "type": "chat.signal", "conversation": conversation.id, "data": data})


async def on_media_state(socket: Socket, frame: dict[str, Any]) -> None:
    conversation = socket.require_conversation()
    if conversation.mode == "text":
        raise FrameError("bad_frame", "media states belong to voice and video conversations")
    await socket.send_to(conversation.partner.channel, {
        "type": "chat.media_state", "conversation": conversation.id,
        "audio": frame["audio"], "video": frame["video"]})


async def on_line(socket: Socket, event: dict[str, Any]) -> None:
    if conversation := socket.in_conversation(event):
        await conversation.deliver(event["line"])


async def on_typing_event(socket: Socket, event: dict[str, Any]) -> None:
    if socket.in_conversation(event):
        await socket.send_frame({"type": "typing", "active": event["active"]})


async def on_signal_event(socket: Socket, event: dict[str, Any]) -> None:
    if socket.in_conversation(event):
        await socket.send_frame({"type": "signal", "data": event["data"]})


async def on_media_state_event(socket: Socket, event: dict[str, Any]) -> None:
    if socket.in_conversation(event):
        await socket.send_frame({"type": "media_state", "audio": event["audio"],
                                 "video": event["video"]})


FRAMES = {"message": on_message, "typing": on_typing, "signal": on_signal,
          "media_state": on_media_state}
EVENTS = {"chat.line": on_line, "chat.typing": on_typing_event,
          "chat.signal": on_signal_event, "chat.media_state": on_media_state_event}
