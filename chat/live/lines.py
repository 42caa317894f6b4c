"""What the two sides say to each other (PROTOCOL.md section 2): `message`, `typing`, `signal`
and `media_state`, from the client and from the partner's socket.

A line's journey: checked (mute, then `filtering.filters`), numbered and logged with the rate
limit in one round trip (`chat.store`), sent to the partner first (the acknowledgement promises
it is on its way), then handed back to the sender as its acknowledgement through the same
ordered delivery (`chat.live.conversation`), which also keeps it in history; finally queued for
analysis (`moderation.analysis`), as the very ciphertext the log holds.

A partner whose socket is in this process gets the line handed to its conversation directly
(`to_partner`, through `here()`, this event loop's sockets by channel name); one in another
process gets a `chat.line` event through the channel layer, queued for its next batch to
Redis (`ProcessPubSubLayer.send_nowait`) without waiting for Redis's answer."""
from __future__ import annotations

import time
import weakref
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from django.conf import settings

from chat import metrics, webrtc
from chat.live.conversation import Conversation
from chat.live.socket import Socket, log_failure
from chat.protocol import FrameError
from chat.relay import utc_now_iso
from chat.store import seal_line
from chatsite.plumbing.runtime import runtime
from moderation.analysis import logged_line_relayed
from moderation.filtering.filters import filter_line
from moderation.filtering.harm import SELF_HARM_IDEATION, support_frame


def here() -> weakref.WeakValueDictionary[str, Socket]:
    """The running event loop's live sockets by channel name (held by the process's runtime;
    the consumer adds a socket once admitted and drops it as it ends; weakly, so that a socket
    whose application was dropped without ending is not kept alive by it)."""
    return runtime().loop_part("chat.sockets_here", weakref.WeakValueDictionary)


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
    sealed = seal_line(line)  # the log's entry, and the analysis queue's
    # The rate limit and the line's number in one round trip.
    seq, retry_after = await socket.store.accept_line(
        conversation.id, line, f"lines:{socket.user_id}", settings.MESSAGE_RATE_LIMIT,
        sealed=sealed)
    if seq is None:
        await socket.refuse_over_limit(retry_after)
    line["seq"] = seq
    line.pop("said", None)  # kept in the encrypted log only
    # The partner's copy goes first: the acknowledgement promises it is on its way.
    await to_partner(socket, conversation, line)
    metrics.observe_line(time.perf_counter() - started)
    await conversation.deliver(line)
    if SELF_HARM_IDEATION in filtered.harm:
        await socket.send_frame(support_frame())  # to the speaker only, quietly
    logged_line_relayed(conversation.id, seq, socket.user_id, sealed)


async def to_partner(socket: Socket, conversation: Conversation, line: dict[str, Any]) -> None:
    """The partner's copy of a line. A partner socket in this process that is in this
    conversation gets it handed to its conversation's ordered delivery at once: no event
    serialised, queued and dispatched through its consumer, which cost more than the rest
    of the relay's own work per line. Any other partner (another process; or not in the
    conversation yet, its `matched` still waiting in its queue, which must come first; or
    closing) gets a `chat.line` event through the channel layer, as before."""
    partner = here().get(conversation.partner.channel)
    theirs = partner.conversation if partner is not None and not partner.closing else None
    if theirs is None or theirs.id != conversation.id:
        event = {"type": "chat.line", "conversation": conversation.id, "line": line}
        send_nowait = getattr(socket.consumer.channel_layer, "send_nowait", None)
        if send_nowait is None:
            await socket.send_to(conversation.partner.channel, event)
        else:
            # Queued for the layer's next batch to Redis, without waiting for its answer:
            # the acknowledgement need not wait for a round trip, and a lost event is a gap
            # the partner fills from the log.
            send_nowait(conversation.partner.channel, event)
        return
    try:
        await theirs.deliver(line)
    except Exception as error:
        # The partner's failure, not the sender's: logged as its consumer would have.
        log_failure("chat.line", error)


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


FRAMES = MappingProxyType({"message": on_message, "typing": on_typing,
                           "signal": on_signal, "media_state": on_media_state})
EVENTS = MappingProxyType({"chat.line": on_line, "chat.typing": on_typing_event,
                           "chat.signal": on_signal_event,
                           "chat.media_state": on_media_state_event})
