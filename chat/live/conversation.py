"""One side's live conversation: its partner, the ordered delivery of its lines (gaps filled
from the log, a catch-up after a resume), the grace while the partner is away, and the one way
it ends, `Conversation.end`: the partner's event, the live store, the database record and the
kept history, in that one place.

A `Conversation` is attached to its socket while the socket is in it (`socket.conversation`)
and watched by this process's watchdog (`chat.lifecycle`) meanwhile. One made from a
`LiveConversation` the socket never joined (paired as it closed, resumed too late) is only
ever ended.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Literal

from django.conf import settings

from chat import conversations, history, lifecycle, metrics, webrtc
from chat.live.socket import Socket, Tasks, Unavailable, in_db
from chat.relay import OrderedDelivery, message_frame, utc_now_iso
from chat.store import LiveConversation

# How long an out-of-order line waits for the ones before it before the log is read.
GAP_WAIT_SECONDS = 0.5
# After a resume, lines the partner sent to the old socket are picked up from the log.
CATCH_UP_AFTER_RESUME_SECONDS = (0.5, 2.0)

Side = Literal["me", "partner"]
ME: Side = "me"
PARTNER: Side = "partner"


@dataclass
class Partner:
    user_id: int
    handle: str
    keeps_history: bool
    channel: str


def language_exchange(live: LiveConversation, user_id: int) -> dict[str, Any]:
    """`practice` and `tandem` of `matched` and `resumed` for `user_id` (section 3): the pair
    was made under the language rule, so two sides that both practise form a tandem."""
    practices = [member.practice for member in live.members.values()]
    return {"practice": live.members[user_id].practice, "tandem": all(practices)}


def grace_ms() -> int:
    return settings.RECONNECT_GRACE_SECONDS * 1000


def history_reason(reason: str, by: Side, reported: bool) -> str:
    """How the kept history names the end: the owner's history says who ended it (a block by
    the partner reads as leaving), and a report made in it outweighs all but a block."""
    how = reason if by == ME or reason not in ("left", "blocked") else "partner_left"
    return "reported" if reported and how != "blocked" else how


class Conversation:
    """The conversation one socket is in, from that side."""

    def __init__(self, socket: Socket, live: LiveConversation, delivered: int = 0) -> None:
        partner = live.partner_of(socket.user_id)
        self.socket = socket
        self.id = live.id
        self.mode = live.mode
        self.initiator = live.initiator_id == socket.user_id
        self.common_interests = live.common_interests
        self.partner = Partner(partner.user_id, partner.handle, partner.keeps_history,
                               partner.channel)
        self.contact = live.contact  # a direct conversation: the contact id (section 5)
        exchange = language_exchange(live, socket.user_id)
        self.practice: str | None = exchange["practice"]  # what this side practises
        self.tandem: bool = exchange["tandem"]
        self.delivery = OrderedDelivery(delivered)
        self.reported = False
        self.tasks = Tasks()  # "gap", "grace", "catch_up": one of each at a time

    # ---- being the socket's conversation

    @property
    def attached(self) -> bool:
        return self.socket.conversation is self

    def attach(self) -> None:
        previous = self.socket.conversation
        if previous is not None and previous is not self:
            previous.tasks.stop_all()  # the same conversation resumed on the same socket
            lifecycle.unwatch(previous)
        self.socket.conversation = self
        lifecycle.watch(self)

    def detach(self) -> None:
        """The socket is done with this conversation (ended, or away and resumable)."""
        socket = self.socket
        socket.conversation = None
        socket.last_conversation = (self.id, self.partner.user_id)
        socket.last_partner_handle = self.partner.handle
        self.tasks.stop_all()
        lifecycle.unwatch(self)

    def frame(self, kind: str) -> dict[str, Any]:
        """`matched` or `resumed` (section 2)."""
        frame = {
            "type": kind, "conversation": self.id, "mode": self.mode,
            "partner": {"handle": self.partner.handle,
                        "keeps_history": self.partner.keeps_history},
            "common_interests": self.common_interests, "initiator": self.initiator,
            "ice_servers": webrtc.ice_servers(self.socket.user_id, self.mode),
            "relay_only": self.mode != "text" and webrtc.relay_only(),
            "direct": self.contact is not None,
            "practice": self.practice, "tandem": self.tandem,
        }
        if self.contact is not None:
            frame["partner"]["contact"] = self.contact
        return frame

    # ---- the one way to end it

    async def end(self, reason: str, by: Side = ME, *, away: bool = False,
                  record_who: bool = True) -> bool:
        """End the conversation for good, `by` this side or the partner, for `reason`.

        `by=ME`: the partner is told and the live conversation closed. `by=PARTNER`: the
        partner ended it and closed it already; this socket is told. `away`: the side that
        ended it had dropped and its grace ran out; the live store closes it only if that side
        is still away (False, and nothing done, when it came back), and that side's kept copy
        is closed too, having no socket left to close it. The database records who ended it
        (none when `record_who` is False: the account is already gone) unless the partner
        just told us, having recorded it itself."""
        socket = self.socket
        ender = socket.user_id if by == ME else self.partner.user_id
        if away and not await socket.store.close_if_away(self.id, ender, grace_ms()):
            return False
        if by == PARTNER and not away:
            async with socket.delivery_lock:  # what waits behind a gap is not lost
                await self.send_lines(self.delivery.skip_gap())
        if self.attached:
            self.detach()
            if socket.keeps_history:
                await history.conversation_closed(
                    socket.user_id, self.id, history_reason(reason, by, self.reported))
        if by == ME:
            await socket.send_to(self.partner.channel, {
                "type": "chat.partner_left", "conversation": self.id, "reason": reason})
            if not away:
                await socket.store.close_conversation(self.id)
        else:
            await socket.send_frame({"type": "partner_left", "reason": reason})
        if by == ME or away:
            try:
                await in_db(conversations.end_conversation, self.id, reason,
                            ender if record_who else None)
            except Unavailable:
                pass  # live state is already closed; the record keeps its start only
        if away:
            # History turned on mid-way counts too, so no keeps_history check.
            await history.conversation_closed(ender, self.id, reason)
        return True

    # ---- stepping away and coming back

    async def step_away(self) -> None:
        """The socket dropped: the conversation waits for a resume during the grace window."""
        if settings.RECONNECT_GRACE_SECONDS <= 0:
            await self.end("disconnected")
            return
        socket = self.socket
        self.detach()
        if await socket.store.mark_away(self.id, socket.user_id, socket.channel_name):
            await socket.send_to(self.partner.channel, {
                "type": "chat.partner_away", "conversation": self.id})

    async def partner_away(self) -> None:
        await self.socket.send_frame({"type": "partner_reconnecting"})
        self.tasks.start("grace", self.end_after_grace())

    async def end_after_grace(self) -> None:
        await asyncio.sleep(settings.RECONNECT_GRACE_SECONDS)
        if self.attached:
            await self.end("disconnected", by=PARTNER, away=True)

    async def partner_back(self, channel: str) -> None:
        self.partner.channel = channel
        self.tasks.stop("grace")
        await self.socket.send_frame({"type": "partner_back"})

    async def watch(self, last_seq: int, partner_alive: bool) -> None:
        """The process's watchdog (chat.lifecycle) every couple of seconds: pick up a last
        line whose event was lost (events are delivered at most once; the log has them all),
        and notice a partner whose server process died without closing its socket."""
        if not self.attached:
            return
        if last_seq > self.delivery.delivered:
            await self.deliver_from_log(skip_missing=False)
        if not partner_alive and "grace" not in self.tasks and await self.socket.store.mark_away(
                self.id, self.partner.user_id, self.partner.channel):
            await self.partner_away()

    # ---- delivery, in order, each line once

    async def deliver(self, line: dict[str, Any]) -> None:
        async with self.socket.delivery_lock:
            await self.send_lines(self.delivery.push(line))
        if self.delivery.has_gap and "gap" not in self.tasks:
            self.tasks.start("gap", self.fill_gap())

    async def fill_gap(self) -> None:
        await asyncio.sleep(GAP_WAIT_SECONDS)
        if self.delivery.has_gap:
            await self.deliver_from_log(skip_missing=True)

    async def catch_up(self) -> None:
        for delay in CATCH_UP_AFTER_RESUME_SECONDS:
            await asyncio.sleep(delay)
            if not self.attached:
                return
            await self.deliver_from_log(skip_missing=False)

    async def deliver_from_log(self, skip_missing: bool) -> None:
        missed = await self.socket.store.lines_after(self.id, self.delivery.delivered)
        async with self.socket.delivery_lock:
            for line in missed:
                await self.send_lines(self.delivery.push(line))
            if skip_missing:
                # Whatever the log no longer has is gone; do not hold back what follows it.
                await self.send_lines(self.delivery.skip_gap())

    async def send_lines(self, lines: list[dict[str, Any]]) -> None:
        socket = self.socket
        for line in lines:
            frame = message_frame(self.id, line, socket.user_id)
            await socket.send_frame(frame)
            if socket.keeps_history:
                await history.line_seen(socket.user_id, self.id, frame)


async def begin(socket: Socket, live: LiveConversation) -> Conversation:
    """The socket enters `live`, found by a search or an accepted invitation: `matched`."""
    conversation = Conversation(socket, live)
    conversation.attach()
    await socket.send_frame(conversation.frame("matched"))
    if socket.find_started is not None:
        metrics.observe_match(time.monotonic() - socket.find_started)
        socket.find_started = None
    if socket.keeps_history:
        await history.conversation_seen(socket.user_id, live.id, live.mode,
                                        conversation.partner.handle, utc_now_iso())
    return conversation
