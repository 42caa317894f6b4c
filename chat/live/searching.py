"""Looking for a stranger (PROTOCOL.md section 2, `find` and `cancel`; the `queue` extension):
the search, the lease renewal and retries while it waits, and the pairing that opens a
conversation for both sides. The pairing rule itself is `chat.matching`'s.

The database is off the way from `find` to `matched`: what a search needs of the user (rules,
blocks, the last partner, the history preference) is read when the socket connects and kept
up to date from the events that change it, and the conversation's row is written right after
`matched` is sent, many pairings of the process in one statement (`ConversationRecords`).
Each side waits for that write before its socket handles anything else, so whatever follows
on either side (a line, `leave`, `block`, `report`, `keep_in_touch`) finds the row."""
from __future__ import annotations

import asyncio
import time
import uuid
from types import MappingProxyType
from typing import Any

from django.conf import settings

from accounts.rules import rules_accepted
from chat import conversations
from chat.conversations import NewConversation, SearchProfile
from chat.live.conversation import Conversation, begin
from chat.live.socket import Socket, Unavailable, in_db, log_failure
from chat.matching import NOT_QUEUED, Pairing, Seeker
from chat.protocol import FrameError
from chat.store import LiveConversation
from chatsite.plumbing.runtime import runtime

# How long a written conversation id is remembered, so that the other side of a pairing made
# in this process does not write it again.
RECORDED_KEPT_SECONDS = 30.0


async def connected(socket: Socket) -> None:
    """Read what a search needs of the user, once (on a pooled database thread); a database
    that fails now is asked again at the first `find`."""
    try:
        socket.profile = await in_db(conversations.search_profile, socket.user_id,
                                     read_only=True)
    except Unavailable:
        socket.profile = None


async def search_profile(socket: Socket) -> SearchProfile:
    profile = socket.profile
    if profile is None:
        profile = socket.profile = await in_db(conversations.search_profile, socket.user_id,
                                               read_only=True)
    if not profile.rules_accepted:
        # Accepted on the chat page since the socket connected?
        profile.rules_accepted = await in_db(rules_accepted, socket.user_id, read_only=True)
    return profile


def last_partner(socket: Socket, profile: SearchProfile) -> tuple[int, int]:
    """(partner, until epoch ms) the seeker is not paired with again, (0, 0) for nobody: the
    partner of the conversation this socket left last, else of the user's latest one."""
    left = (socket.last_conversation[1], socket.left_at_ms) if socket.last_conversation \
        else profile.last_partner
    return conversations.not_again_until(left) or (0, 0)


async def on_find(socket: Socket, frame: dict[str, Any]) -> None:
    if socket.conversation:
        raise FrameError("already_searching", "already in a conversation; leave it first")
    if socket.searching:
        raise FrameError("already_searching", "already looking for a partner")
    profile = await search_profile(socket)
    if not profile.rules_accepted:
        raise FrameError("rules_required",
                         "accept the community rules on the chat page first")
    socket.keeps_history = profile.keeps_history
    last, last_until_ms = last_partner(socket, profile)
    socket.searching = Seeker(
        user_id=socket.user_id, channel=socket.channel_name, mode=frame["mode"],
        lang=frame["lang"], practice=frame["practice"], interests=frame["interests"],
        excluded=sorted(profile.excluded), last_partner=last, last_partner_until_ms=last_until_ms,
        handle=socket.handle, keeps_history=socket.keeps_history,
    )
    socket.find_started = time.monotonic()
    await try_match(socket, find=True)  # sends `searching` once the frame rate allowed it
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


async def try_match(socket: Socket, renew: bool = False, find: bool = False) -> str | None:
    """Pair the socket's seeker (opening the conversation in the same step) or queue it.
    `find`: the `find` frame's own attempt, which checks the frame rate in that step (the
    consumer leaves it to this) and then tells the client `searching`."""
    async with socket.match_lock:
        seeker = socket.searching
        if seeker is None or socket.closing:
            return None
        result = await pair(socket, seeker, renew=renew, find=find)
        if find:
            if isinstance(result, float):
                socket.searching = None
                await socket.refuse_over_limit(result)
            await socket.send_frame({"type": "searching", "mode": seeker.mode})
        while isinstance(result, Pairing):
            if await start(socket, result) or result.seeker_taken:
                return None  # matched, or taken by an invitation (its `matched` comes)
            # The partner was taken in the same instant: search afresh.
            result = await pair(socket, seeker)
        return None if isinstance(result, float) else result


async def pair(socket: Socket, seeker: Seeker, renew: bool = False,
               find: bool = False) -> Pairing | float | str | None:
    store = socket.store
    return await socket.matcher.pair(
        seeker, store.opening_args(str(uuid.uuid4())), renew=renew,
        rate=store.rate_args(f"frames:{socket.user_id}", settings.FRAME_RATE_LIMIT)
        if find else None)


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
    """This socket's search found `pairing.waiting` and opened their conversation in the same
    step: begin it for both; False when one of the two was taken in the same instant (an
    accepted invitation), and nothing was opened."""
    waiting = pairing.waiting
    if pairing.conversation is None:
        if not pairing.partner_taken:
            # The pairing took the waiting user out of the queue: it searches again
            # (`on_matched` finds no such conversation).
            await socket.send_to(waiting.channel, {"type": "chat.matched",
                                                   "conversation": str(uuid.uuid4())})
        return False
    live = LiveConversation.from_dict(pairing.conversation)
    stop_searching(socket)
    # The user who waited makes the WebRTC offer.
    await socket.send_to(waiting.channel, {"type": "chat.matched", "conversation": live.id})
    await begin(socket, live)
    await record(live)
    return True


async def on_matched(socket: Socket, event: dict[str, Any]) -> None:
    """Another socket paired with this one (or an invitation was accepted)."""
    live = await socket.store.conversation(event["conversation"])
    if live is None or socket.user_id not in live.members:
        # Closed again by the partner at once; the pairing took this user out of the queue.
        if socket.searching and not socket.closing:
            await try_match(socket)
        return
    invited = live.contact is not None  # an accepted invitation needs no search
    if (socket.searching is None and not invited) or socket.conversation is not None \
            or socket.closing:
        # Paired just as this socket stopped looking: the partner learns at once (its end is
        # recorded on a row that exists).
        if not invited:
            await record(live)
        await Conversation(socket, live).end("left")
        return
    if invited and socket.searching:
        async with socket.match_lock:
            await socket.matcher.cancel(socket.user_id, socket.channel_name)
    if invited:
        socket.keeps_history = live.members[socket.user_id].keeps_history
    stop_searching(socket)
    await begin(socket, live)
    if not invited:  # an invitation's row was written before it was accepted
        await record(live)


async def on_block_made(socket: Socket, event: dict[str, Any]) -> None:
    """This user blocked someone (here or on a page): never paired with them again."""
    if socket.profile is not None:
        socket.profile.excluded.add(int(event["user"]))


async def on_preferences(socket: Socket, event: dict[str, Any]) -> None:
    """The history preference changed on a page: it holds from the next `find`."""
    if socket.profile is not None:
        socket.profile.keeps_history = bool(event["keeps_history"])


# ---- the conversation's row


class ConversationRecords:
    """The rows of this process's pairings, written right after `matched` is sent: the first
    at once, and those that come while a write is under way together in the next one, so that
    a burst of pairings costs a few statements instead of a database trip each."""

    def __init__(self) -> None:
        self.waiting: dict[str, NewConversation] = {}
        self.written: dict[str, asyncio.Future[None]] = {}
        self.writer: asyncio.Task | None = None

    async def record(self, new: NewConversation) -> None:
        """Once the row is written (or the database failed: the conversation goes on, only
        its record is missing)."""
        done = self.written.get(new.id)
        if done is None:
            done = self.written[new.id] = asyncio.get_running_loop().create_future()
            self.waiting[new.id] = new
            if self.writer is None or self.writer.done():
                self.writer = asyncio.create_task(self.write())
        await asyncio.shield(done)

    async def write(self) -> None:
        loop = asyncio.get_running_loop()
        while self.waiting:
            batch, self.waiting = list(self.waiting.values()), {}
            try:
                await self.write_rows(batch)
            except Exception as error:
                log_failure("conversation record", error)
            for new in batch:
                done = self.written[new.id]
                if not done.done():
                    done.set_result(None)
                loop.call_later(RECORDED_KEPT_SECONDS, self.written.pop, new.id, None)

    @staticmethod
    async def write_rows(batch: list[NewConversation]) -> None:
        try:
            await in_db(conversations.record_conversations, batch)
        except Unavailable:
            if len(batch) == 1:
                return  # the conversation goes on; only its record is missing
            # One bad row (an account deleted meanwhile) must not cost the others theirs.
            for new in batch:
                await ConversationRecords.write_rows([new])


async def record(live: LiveConversation) -> None:
    """Write the conversation's row (`chat.conversations.record_conversations`)."""
    other = next(uid for uid in live.members if uid != live.initiator_id)
    await runtime().loop_part("conversation.records", ConversationRecords).record(
        NewConversation(live.id, live.mode, live.initiator_id, other, live.common_interests))


FRAMES = MappingProxyType({"find": on_find, "cancel": on_cancel})
EVENTS = MappingProxyType({"chat.matched": on_matched, conversations.BLOCK_EVENT: on_block_made,
                           "chat.preferences": on_preferences})
