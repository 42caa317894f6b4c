"""Looking for a stranger (PROTOCOL.md section 2, `find` and `cancel`; the `queue` extension):
the search, the lease renewal and retries while it waits, and the pairing that opens a
conversation for both sides. The pairing rule itself is `chat.matching`'s."""
from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from django.conf import settings

from chat import conversations
from chat.live.conversation import Conversation, begin
from chat.live.socket import Socket, Unavailable, in_db
from chat.matching import NOT_QUEUED, Pairing, Seeker
from chat.protocol import FrameError
from chat.store import LiveConversation, Member


async def on_find(socket: Socket, frame: dict[str, Any]) -> None:
    if socket.conversation:
        raise FrameError("already_searching", "already in a conversation; leave it first")
    if socket.searching:
        raise FrameError("already_searching", "already looking for a partner")
    profile = await in_db(conversations.search_profile, socket.user_id, read_only=True)
    if not profile.rules_accepted:
        raise FrameError("rules_required",
                         "accept the community rules on the chat page first")
    socket.keeps_history, socket.muted_until = profile.keeps_history, profile.muted_until
    last_partner, last_partner_until_ms = profile.last_partner or (0, 0)
    socket.searching = Seeker(
        user_id=socket.user_id, channel=socket.channel_name, mode=frame["mode"],
        lang=frame["lang"], practice=frame["practice"], interests=frame["interests"],
        excluded=profile.excluded, last_partner=last_partner,
        last_partner_until_ms=last_partner_until_ms,
        handle=socket.handle, keeps_history=socket.keeps_history,
    )
    socket.find_started = time.monotonic()
    await socket.send_frame({"type": "searching", "mode": frame["mode"]})
    await try_match(socket)
    socket.queue_status = frame["queue_status"]
    if socket.searching:
        await send_queue_status(socket, frame["mode"])
        socket.start_task("search", keep_searching(socket))


async def on_cancel(socket: Socket, frame: dict[str, Any]) -> None:
    if socket.conversation:
        raise FrameError("already_searching", "in a conversation; use leave")
    async with socket.match_lock:
        if socket.searching and not await socket.matcher.cancel(socket.user_id,
                                                                socket.channel_name):
            return  # just paired: `matched` is on its way or was sent
        stop_searching(socket)
    await socket.send_frame({"type": "cancelled"})


async def try_match(socket: Socket, renew: bool = False) -> str | None:
    async with socket.match_lock:
        seeker = socket.searching
        if seeker is None or socket.closing:
            return None
        result = await socket.matcher.find_partner(seeker, renew=renew)
        while isinstance(result, Pairing):
            if await start(socket, result) or await socket.store.conversation_of(
                    socket.user_id):
                return None  # matched, or taken by an invitation (its `matched` comes)
            # The partner was taken in the same instant: search afresh.
            result = await socket.matcher.find_partner(seeker)
        return result


async def keep_searching(socket: Socket) -> None:
    """Renew the queue lease and retry, so the interest fallback happens on time; tell the
    client how many others are searching (the `queue` extension frame)."""
    interval = max(1.0, min(settings.MATCH_LEASE_SECONDS / 3,
                            settings.MATCH_INTEREST_WAIT_SECONDS or 1,
                            settings.QUEUE_STATUS_SECONDS or 1))
    missing = 0
    while socket.searching and not socket.closing:
        await asyncio.sleep(interval)
        if await try_match(socket, renew=True) != NOT_QUEUED:
            missing = 0
            if socket.searching:
                await send_queue_status(socket, socket.searching.mode)
            continue
        # Taken out by a partner's process: `matched` normally arrives at once. A seeker
        # still waiting a round later had lost its lease; it queues again.
        missing += 1
        if missing > 1:
            missing = 0
            await try_match(socket)


async def send_queue_status(socket: Socket, mode: str) -> None:
    if not socket.queue_status:
        return
    searching = await socket.matcher.waiting_count(mode, except_user=socket.user_id)
    await socket.send_frame({"type": "queue", "mode": mode, "searching": searching})


def stop_searching(socket: Socket) -> None:
    socket.searching = None
    socket.stop_task("search")


async def leave_queue(socket: Socket) -> None:
    """The socket closes: its place in the queue goes."""
    async with socket.match_lock:
        if socket.searching:
            socket.searching = None
            await socket.matcher.cancel(socket.user_id, socket.channel_name)


async def start(socket: Socket, pairing: Pairing) -> bool:
    """This socket's search found `pairing.waiting`: open the conversation for both; False
    when one of the two was taken in the same instant (an accepted invitation)."""
    waiting, seeker = pairing.waiting, pairing.seeker
    live = LiveConversation(
        id=str(uuid.uuid4()), mode=seeker.mode, initiator_id=waiting.user_id,
        common_interests=pairing.common_interests,
        members={s.user_id: Member(s.user_id, s.channel, s.handle, s.keeps_history,
                                   practice=s.practice)
                 for s in (waiting, seeker)})
    if not await socket.store.open_conversation(live):
        if not await socket.store.conversation_of(waiting.user_id):
            # The pairing took the waiting user out of the queue: it searches again
            # (`on_matched` finds no such conversation).
            await socket.send_to(waiting.channel, {"type": "chat.matched",
                                                   "conversation": live.id})
        return False
    stop_searching(socket)
    try:
        await in_db(conversations.start_conversation, live.id, live.mode,
                    waiting.user_id, seeker.user_id, live.common_interests)
    except Unavailable:
        pass  # the conversation goes on; only its record is missing
    # The user who waited makes the WebRTC offer.
    await socket.send_to(waiting.channel, {"type": "chat.matched", "conversation": live.id})
    await begin(socket, live)
    return True


async def on_matched(socket: Socket, event: dict[str, Any]) -> None:
    """Another socket paired with this one (or an invitation was accepted)."""
    live = await socket.store.conversation_of(socket.user_id)
    if live is None or live.id != event["conversation"]:
        # Closed again by the partner at once; the pairing took this user out of the queue.
        if socket.searching and not socket.closing:
            await try_match(socket)
        return
    invited = live.contact is not None  # an accepted invitation needs no search
    if (socket.searching is None and not invited) or socket.conversation is not None \
            or socket.closing:
        # Paired just as this socket stopped looking: the partner learns at once.
        await Conversation(socket, live).end("left")
        return
    if invited and socket.searching:
        async with socket.match_lock:
            await socket.matcher.cancel(socket.user_id, socket.channel_name)
    if invited:
        socket.keeps_history = live.members[socket.user_id].keeps_history
    stop_searching(socket)
    await begin(socket, live)


FRAMES = {"find": on_find, "cancel": on_cancel}
EVENTS = {"chat.matched": on_matched}
