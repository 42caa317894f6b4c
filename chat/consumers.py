"""The live socket `/ws/chat/` (PROTOCOL.md section 2).

The consumer parses frames, keeps the socket's own state (searching, in a conversation) and
calls the services: `chat.matching` pairs, `chat.store` holds the live state that processes
share, `chat.conversations` and `moderation.reports` write the database.
"""
from __future__ import annotations

import asyncio
import logging
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import ChannelFull, StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError

from accounts.activity import mark_seen
from accounts.addresses import socket_address
from chat import conversations, history, lifecycle, metrics, webrtc
from chat.contacts import live as contacts_live
from chat.matching import NOT_QUEUED, Pairing, Seeker, get_matcher
from chat.protocol import FrameError, parse_frame
from chat.relay import OrderedDelivery, message_frame, seq_of, to_json, utc_now_iso
from chat.store import LiveConversation, Member, get_store
from moderation.analysis import line_relayed
from moderation.bans import BAN_MARKER_COOKIE, active_mute, banned_frame, door_refusal
from moderation.filtering.filters import filter_line
from moderation.filtering.harm import SELF_HARM_IDEATION, support_frame
from moderation.reports import ReportError, evidence_from, file_report

log = logging.getLogger(__name__)

CLOSE_NOT_LOGGED_IN = 4001
CLOSE_FORBIDDEN = 4003
CLOSE_FLOODING = 4008
CLOSE_REPLACED = 4009
CLOSE_TRY_AGAIN_LATER = lifecycle.CLOSE_TRY_AGAIN_LATER
# A client's close with 1000 is a goodbye, not a drop (PROTOCOL.md v2, "Reconnecting").
CLOSE_NORMAL = 1000
# Refusals that are the server's own state, not the client's doing, and cost no strike.
NO_STRIKE_CODES = frozenset({"rate_limited", "unavailable", "internal"})
INTERNAL_ERROR = {"type": "error", "code": "internal",
                  "detail": "the server could not handle that frame; nothing changed"}

# How long an out-of-order line waits for the ones before it before the log is read.
GAP_WAIT_SECONDS = 0.5
# After a resume, lines the partner sent to the old socket are picked up from the log.
CATCH_UP_AFTER_RESUME_SECONDS = (0.5, 2.0)

T = TypeVar("T")


class Unavailable(Exception):
    """The database is unreachable; the frame is refused, live conversations go on."""


def log_failure(where: str, error: BaseException) -> None:
    """Log a handler's failure by its type and traceback only: an exception's message can
    carry what a user typed (a database error quotes its parameters)."""
    where_from = "".join(traceback.format_tb(error.__traceback__))
    log.error("%s failed: %s\n%s", where, type(error).__name__, where_from)


async def in_db(function: Callable[..., T], *args: Any, read_only: bool = False) -> T:
    """`function` on the database thread. A `read_only` one may run on a thread of a pool
    instead, beside the others: under a burst of finds the reads then wait for PostgreSQL
    side by side rather than one after the other on the one database thread."""
    try:
        return await database_sync_to_async(function, thread_sensitive=not read_only)(*args)
    except DatabaseError as error:
        log.warning("database unavailable: %s", error)
        raise Unavailable from error


@dataclass
class Partner:
    user_id: int
    handle: str
    keeps_history: bool
    channel: str


@dataclass
class Chat:
    """The conversation this socket is in."""

    id: str
    mode: str
    partner: Partner
    initiator: bool
    common_interests: list[str]
    delivery: OrderedDelivery = field(default_factory=OrderedDelivery)
    reported: bool = False
    contact: str | None = None  # a direct conversation: the contact id (section 5)
    practice: str | None = None  # the language this side practises (section 3)
    tandem: bool = False


def language_exchange(live: LiveConversation, user_id: int) -> dict[str, Any]:
    """`practice` and `tandem` of `matched` and `resumed` for `user_id` (section 3): the pair
    was made under the language rule, so two sides that both practise form a tandem."""
    practices = [member.practice for member in live.members.values()]
    return {"practice": live.members[user_id].practice, "tandem": all(practices)}


class ChatConsumer(AsyncWebsocketConsumer):
    user_id: int
    chat: Chat | None = None
    searching: Seeker | None = None
    find_started: float | None = None  # when the current search began, for the metrics
    last_conversation: tuple[str, int] | None = None  # (id, partner id) after it ended
    last_partner_handle = ""
    queue_status = False  # the client asked for `queue` frames while searching
    muted_until: datetime | None = None
    closing = False
    closed_by_server = False

    async def dispatch(self, message: dict[str, Any]) -> None:
        # channels closes stale database connections before every frame and event, a hop to
        # the sync thread each time; database_sync_to_async does it for the calls that use
        # the database, so the relay path skips it.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None and message["type"] in contacts_live.EVENTS:
            handler = partial(contacts_live.EVENTS[message["type"]], self)
        if handler is None:
            raise ValueError(f"no handler for message type {message['type']}")
        try:
            await handler(message)
        except StopConsumer:
            raise
        except Exception as error:
            # An exception here would end the application: daphne closes the socket with 1011
            # and never delivers its disconnect, so nothing the socket holds is given back.
            log_failure(message["type"], error)
            await self.after_failure(message["type"])

    async def after_failure(self, kind: str) -> None:
        if kind == "websocket.disconnect":
            raise StopConsumer
        try:
            if kind == "websocket.connect":
                await self.close(code=CLOSE_TRY_AGAIN_LATER)
            elif not self.closing:
                await self.send_frame(INTERNAL_ERROR)
        except Exception as error:
            log_failure("error frame", error)

    async def close(self, code: int | None = None, reason: str | None = None) -> None:
        self.closed_by_server = True
        await super().close(code=code, reason=reason)

    async def connect(self) -> None:
        self.tasks: dict[str, asyncio.Task] = {}
        user = self.scope.get("user")
        await self.accept()
        if self.scope.get("database_unavailable"):
            await self.close(code=CLOSE_TRY_AGAIN_LATER)
            return
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_NOT_LOGGED_IN)
            return
        self.user_id = user.id
        self.handle = user.username
        self.keeps_history = user.keeps_history
        try:
            # The same ban check as every other door: the account's own ban, or a ban it was
            # made to get around (the browser's ban marker, the address; moderation.bans).
            ban = await in_db(door_refusal, self.user_id, user.date_joined,
                              socket_address(self.scope),
                              (self.scope.get("cookies") or {}).get(BAN_MARKER_COOKIE))
            self.muted_until = await in_db(active_mute, self.user_id)
        except Unavailable:
            await self.close(code=CLOSE_TRY_AGAIN_LATER)
            return
        if ban:
            await self.send_frame(banned_frame(ban))
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.store = get_store()
        self.matcher = get_matcher()
        self.address = socket_address(self.scope)
        if not await self.store.add_address_socket(self.address, self.channel_name,
                                                   settings.MAX_SOCKETS_PER_ADDRESS):
            await self.send_frame({"type": "error", "code": "rate_limited",
                                   "detail": "too many connections from your address",
                                   "retry_after": 60})
            await self.close(code=CLOSE_FLOODING)
            return
        # Matching decisions of this socket run one at a time (the frame handlers and the
        # retry loop), and lines are handed to the socket one batch at a time.
        self.match_lock = asyncio.Lock()
        self.delivery_lock = asyncio.Lock()
        replaced = await self.store.claim_socket(self.user_id, self.channel_name)
        if replaced:
            await self.send_to(replaced, {"type": "chat.replaced"})
        lifecycle.register(self, self.store)
        try:
            await in_db(mark_seen, self.user_id)
        except Unavailable:
            pass
        await self.send_frame({"type": "welcome", "handle": self.handle,
                               "keeps_history": self.keeps_history})
        await self.contacts_hook(contacts_live.connected(self))

    async def disconnect(self, code: int) -> None:
        """Give back all the socket holds: queue entry, conversation, claim, address place,
        lifecycle registration. Each step runs even when an earlier one failed, and the whole
        runs to its end even when daphne cancels the application meanwhile."""
        if not hasattr(self, "address"):
            return  # refused before it held anything
        self.closing = True
        for task in list(self.tasks.values()):
            if task is not asyncio.current_task():
                task.cancel()
        await asyncio.shield(self.give_back(code))

    async def give_back(self, code: int) -> None:
        steps: list[Callable[[], Any]] = []
        if hasattr(self, "match_lock"):
            steps = [self.leave_queue, partial(self.leave_conversation, code),
                     partial(self.store.release_socket, self.user_id, self.channel_name),
                     partial(contacts_live.disconnected, self)]  # contacts see it go
        steps.append(partial(self.store.remove_address_socket, self.address, self.channel_name))
        for step in steps:
            try:
                await step()
            except Exception as error:
                log_failure("disconnect", error)
        lifecycle.unregister(self)

    async def leave_queue(self) -> None:
        async with self.match_lock:
            if self.searching:
                self.searching = None
                await self.matcher.cancel(self.user_id, self.channel_name)

    async def leave_conversation(self, code: int) -> None:
        if self.chat and code == CLOSE_NORMAL and not self.closed_by_server:
            await self.end_chat("left")  # closed on purpose: no grace
        elif self.chat:
            await self.step_away(self.chat)
        else:
            # A partner may have paired with this socket just as it closed.
            live = await self.store.conversation_of(self.user_id)
            if live and live.members[self.user_id].channel == self.channel_name:
                await self.close_live(live, "disconnected")

    async def contacts_hook(self, work: Any) -> None:
        """Presence and pending offers are a courtesy: their failure never fails the socket."""
        try:
            await work
        except Exception:
            log.warning("contacts hook failed", exc_info=True)

    # ---- frames from the client

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if not hasattr(self, "match_lock"):
            return  # refused at connect and closing: nothing to answer
        try:
            frame = parse_frame(text_data)
            if frame["type"] != "message":
                await self.check_rate("frames", settings.FRAME_RATE_LIMIT)
            handler = getattr(self, "on_" + frame["type"], None)
            if handler is None:  # section 5's frames: chat.contacts.live
                handler = partial(contacts_live.FRAMES[frame["type"]], self)
            await handler(frame)
        except FrameError as error:
            if not self.closing:
                await self.send_frame(error.frame())
            if error.code not in NO_STRIKE_CODES:
                await self.strike()
        except Unavailable:
            await self.send_frame({"type": "error", "code": "unavailable",
                                   "detail": "the service is briefly unavailable; try again"})

    async def check_rate(self, kind: str, rate: str) -> None:
        retry_after = await self.store.hit(f"{kind}:{self.user_id}", rate)
        if retry_after is not None:
            await self.refuse_over_limit(retry_after)

    async def refuse_over_limit(self, retry_after: float) -> None:
        """Refuse the frame; repeated flooding closes the socket with 4008."""
        await self.strike()
        raise FrameError("rate_limited", "slow down", retry_after=retry_after)

    async def strike(self) -> None:
        """Count a refused frame; more than RATE_LIMIT_STRIKES a minute close with 4008."""
        if self.closing:
            return
        if await self.store.hit(f"strikes:{self.user_id}", f"{settings.RATE_LIMIT_STRIKES}/m"):
            await self.send_frame({"type": "error", "code": "rate_limited",
                                   "detail": "too many frames; closing", "retry_after": 60})
            self.closing = True
            await self.close(code=CLOSE_FLOODING)

    async def on_ping(self, frame: dict[str, Any]) -> None:
        await self.send_frame({"type": "pong"})

    async def on_find(self, frame: dict[str, Any]) -> None:
        if self.chat:
            raise FrameError("already_searching", "already in a conversation; leave it first")
        if self.searching:
            raise FrameError("already_searching", "already looking for a partner")
        profile = await in_db(conversations.search_profile, self.user_id, read_only=True)
        if not profile.rules_accepted:
            raise FrameError("rules_required",
                             "accept the community rules on the chat page first")
        self.keeps_history, self.muted_until = profile.keeps_history, profile.muted_until
        last_partner, last_partner_until_ms = profile.last_partner or (0, 0)
        self.searching = Seeker(
            user_id=self.user_id, channel=self.channel_name, mode=frame["mode"],
            lang=frame["lang"], practice=frame["practice"], interests=frame["interests"],
            excluded=profile.excluded, last_partner=last_partner,
            last_partner_until_ms=last_partner_until_ms,
            handle=self.handle, keeps_history=self.keeps_history,
        )
        self.find_started = time.monotonic()
        await self.send_frame({"type": "searching", "mode": frame["mode"]})
        await self.try_match()
        self.queue_status = frame["queue_status"]
        if self.searching:
            await self.send_queue_status(frame["mode"])
            self.start_task("search", self.keep_searching())

    async def on_cancel(self, frame: dict[str, Any]) -> None:
        if self.chat:
            raise FrameError("already_searching", "in a conversation; use leave")
        async with self.match_lock:
            if self.searching and not await self.matcher.cancel(self.user_id, self.channel_name):
                return  # just paired: `matched` is on its way or was sent
            self.stop_searching()
        await self.send_frame({"type": "cancelled"})

    async def on_message(self, frame: dict[str, Any]) -> None:
        started = time.perf_counter()
        chat = self.require_chat()
        if self.muted_until and self.muted_until > datetime.now(UTC):
            until = self.muted_until.isoformat().replace("+00:00", "Z")
            raise FrameError("muted", f"a moderator muted you until {until}", until=until)
        filtered = filter_line(frame["text"])
        line = {"sender": self.user_id, "text": filtered.text, "ts": utc_now_iso(),
                "filtered": filtered.filtered, "client_id": frame["client_id"]}
        if filtered.filtered:
            line["said"] = frame["text"]  # for a moderator's evidence only, never relayed
        # The rate limit and the line's number in one round trip.
        seq, retry_after = await self.store.accept_line(
            chat.id, line, f"lines:{self.user_id}", settings.MESSAGE_RATE_LIMIT)
        if seq is None:
            await self.refuse_over_limit(retry_after)
        line["seq"] = seq
        line.pop("said", None)  # kept in the encrypted log only
        # The partner's copy goes first: the acknowledgement promises it is on its way.
        await self.send_to(chat.partner.channel,
                           {"type": "chat.line", "conversation": chat.id, "line": line})
        metrics.observe_line(time.perf_counter() - started)
        await self.deliver(chat, line)
        if SELF_HARM_IDEATION in filtered.harm:
            await self.send_frame(support_frame())  # to the speaker only, quietly
        await line_relayed(chat.id, line["seq"], self.user_id, frame["text"])

    async def on_typing(self, frame: dict[str, Any]) -> None:
        chat = self.require_chat()
        await self.send_to(chat.partner.channel, {
            "type": "chat.typing", "conversation": chat.id, "active": frame["active"]})

    async def on_signal(self, frame: dict[str, Any]) -> None:
        chat = self.require_chat()
        if chat.mode == "text":
            raise FrameError("bad_frame", "signals belong to voice and video conversations")
        data = webrtc.filter_signal(frame["data"])
        if data is not None:
            await self.send_to(chat.partner.channel, {
                "type": "chat.signal", "conversation": chat.id, "data": data})

    async def on_media_state(self, frame: dict[str, Any]) -> None:
        chat = self.require_chat()
        if chat.mode == "text":
            raise FrameError("bad_frame", "media states belong to voice and video conversations")
        await self.send_to(chat.partner.channel, {
            "type": "chat.media_state", "conversation": chat.id,
            "audio": frame["audio"], "video": frame["video"]})

    async def on_leave(self, frame: dict[str, Any]) -> None:
        chat = self.require_chat()
        await self.end_chat("left")
        await self.send_frame({"type": "ended", "conversation": chat.id})

    async def on_block(self, frame: dict[str, Any]) -> None:
        conversation_id, partner_id = self.current_or_last_partner()
        await in_db(conversations.block_user, self.user_id, partner_id, conversation_id)
        await contacts_live.conversation_spoiled(conversation_id)  # the block ends a contact
        if self.chat and self.chat.id == conversation_id:
            await self.end_chat("blocked")
            await self.send_frame({"type": "ended", "conversation": conversation_id})
        await self.send_frame({"type": "blocked"})

    async def on_report(self, frame: dict[str, Any]) -> None:
        conversation_id, partner_id = self.current_or_last_partner()
        await self.check_rate("reports", settings.REPORT_RATE_LIMIT)
        evidence = await self.evidence(conversation_id)
        try:
            report = await in_db(file_report, self.user_id, partner_id, conversation_id,
                                 frame["reason"], frame["note"], evidence)
        except ReportError as error:
            raise FrameError("bad_frame", str(error)) from None
        await contacts_live.conversation_spoiled(conversation_id)
        if self.chat and self.chat.id == conversation_id:
            self.chat.reported = True
        elif self.keeps_history:
            await history.conversation_closed(self.user_id, conversation_id, "reported")
        await self.send_frame({"type": "reported", "report": report.pk})

    async def evidence(self, conversation_id: str) -> list[dict[str, Any]]:
        """The conversation's last lines as the reporter saw them, while the log has them."""
        lines = await self.store.lines_after(conversation_id, 0)
        _, partner_id = self.current_or_last_partner()
        partner_handle = (self.chat.partner.handle if self.chat and self.chat.id == conversation_id
                          else self.last_partner_handle)
        return evidence_from(lines, {self.user_id: self.handle, partner_id: partner_handle})

    async def on_resume(self, frame: dict[str, Any]) -> None:
        conversation_id = frame["conversation"]
        if self.searching:
            raise FrameError("already_searching", "looking for a partner; cancel first")
        if self.chat and self.chat.id != conversation_id:
            raise FrameError("already_searching", "already in another conversation")
        after = seq_of(frame["after"], conversation_id)
        if after is None:
            raise FrameError("bad_frame", "after is not a message id of that conversation")
        grace_ms = settings.RECONNECT_GRACE_SECONDS * 1000
        live = await self.store.rejoin(conversation_id, self.user_id, self.channel_name,
                                       grace_ms)
        if live is None:
            await self.close_if_expired(conversation_id)
            raise FrameError("not_in_conversation", "that conversation is over")
        partner = live.partner_of(self.user_id)
        chat = Chat(id=live.id, mode=live.mode, initiator=live.initiator_id == self.user_id,
                    common_interests=live.common_interests,
                    partner=Partner(partner.user_id, partner.handle, partner.keeps_history,
                                    partner.channel),
                    delivery=OrderedDelivery(after), contact=live.contact,
                    **language_exchange(live, self.user_id))
        self.chat = chat
        async with self.delivery_lock:
            missed = await self.store.lines_after(chat.id, after)
            ready = [line for logged in missed for line in chat.delivery.push(logged)]
            ready += chat.delivery.skip_gap()
            missed_frames = [message_frame(chat.id, line, self.user_id) for line in ready]
            await self.send_frame({**self.conversation_frame("resumed", chat),
                                   "missed": missed_frames})
            if self.keeps_history:
                for frame in missed_frames:
                    await history.line_seen(self.user_id, chat.id, frame)
        await self.send_to(partner.channel, {"type": "chat.partner_back",
                                             "conversation": chat.id,
                                             "channel": self.channel_name})
        if partner.away_since_ms is not None:
            await self.partner_stepped_away(chat)
        self.start_task("catch_up", self.catch_up(chat))

    # ---- matching

    async def try_match(self, renew: bool = False) -> str | None:
        async with self.match_lock:
            seeker = self.searching
            if seeker is None or self.closing:
                return None
            result = await self.matcher.find_partner(seeker, renew=renew)
            if isinstance(result, Pairing):
                await self.start_chat(result)
                return None
            return result

    async def keep_searching(self) -> None:
        """Renew the queue lease and retry, so the interest fallback happens on time; tell
        the client how many others are searching (the `queue` extension frame)."""
        interval = max(1.0, min(settings.MATCH_LEASE_SECONDS / 3,
                                settings.MATCH_INTEREST_WAIT_SECONDS or 1,
                                settings.QUEUE_STATUS_SECONDS or 1))
        missing = 0
        while self.searching and not self.closing:
            await asyncio.sleep(interval)
            if await self.try_match(renew=True) != NOT_QUEUED:
                missing = 0
                if self.searching:
                    await self.send_queue_status(self.searching.mode)
                continue
            # Taken out by a partner's process: `matched` normally arrives at once. A seeker
            # still waiting a round later had lost its lease; it queues again.
            missing += 1
            if missing > 1:
                missing = 0
                await self.try_match()

    async def send_queue_status(self, mode: str) -> None:
        if not self.queue_status:
            return
        searching = await self.matcher.waiting_count(mode, except_user=self.user_id)
        await self.send_frame({"type": "queue", "mode": mode, "searching": searching})

    def stop_searching(self) -> None:
        self.searching = None
        self.stop_task("search")

    async def start_chat(self, pairing: Pairing) -> None:
        """This socket's search found `pairing.waiting`: open the conversation for both."""
        waiting, seeker = pairing.waiting, pairing.seeker
        live = LiveConversation(
            id=str(uuid.uuid4()), mode=seeker.mode, initiator_id=waiting.user_id,
            common_interests=pairing.common_interests,
            members={s.user_id: Member(s.user_id, s.channel, s.handle, s.keeps_history,
                                       practice=s.practice)
                     for s in (waiting, seeker)})
        self.stop_searching()
        try:
            await in_db(conversations.start_conversation, live.id, live.mode,
                        waiting.user_id, seeker.user_id, live.common_interests)
        except Unavailable:
            pass  # the conversation goes on; only its record is missing
        await self.store.open_conversation(live)
        # The user who waited makes the WebRTC offer.
        await self.send_to(waiting.channel, {"type": "chat.matched", "conversation": live.id})
        await self.begin_chat(live)

    async def begin_chat(self, live: LiveConversation) -> None:
        partner = live.partner_of(self.user_id)
        self.chat = Chat(id=live.id, mode=live.mode,
                         initiator=live.initiator_id == self.user_id,
                         common_interests=live.common_interests,
                         partner=Partner(partner.user_id, partner.handle, partner.keeps_history,
                                         partner.channel),
                         contact=live.contact, **language_exchange(live, self.user_id))
        await self.send_frame(self.conversation_frame("matched", self.chat))
        if self.find_started is not None:
            metrics.observe_match(time.monotonic() - self.find_started)
            self.find_started = None
        if self.keeps_history:
            await history.conversation_seen(self.user_id, live.id, live.mode, partner.handle,
                                            utc_now_iso())

    def conversation_frame(self, kind: str, chat: Chat) -> dict[str, Any]:
        frame = {
            "type": kind, "conversation": chat.id, "mode": chat.mode,
            "partner": {"handle": chat.partner.handle,
                        "keeps_history": chat.partner.keeps_history},
            "common_interests": chat.common_interests, "initiator": chat.initiator,
            "ice_servers": webrtc.ice_servers(self.user_id, chat.mode),
            "relay_only": chat.mode != "text" and webrtc.relay_only(),
            "direct": chat.contact is not None,
            "practice": chat.practice, "tandem": chat.tandem,
        }
        if chat.contact is not None:
            frame["partner"]["contact"] = chat.contact
        return frame

    # ---- ending and stepping away

    def require_chat(self) -> Chat:
        if self.chat is None:
            raise FrameError("not_in_conversation", "you are not in a conversation")
        return self.chat

    def current_or_last_partner(self) -> tuple[str, int]:
        if self.chat:
            return self.chat.id, self.chat.partner.user_id
        if self.last_conversation:
            return self.last_conversation
        raise FrameError("not_in_conversation", "there is no current or last partner")

    async def forget_chat(self, chat: Chat, how: str | None) -> None:
        """This socket is done with `chat`; `how` it ended, or None when it may resume."""
        self.chat = None
        self.last_conversation = (chat.id, chat.partner.user_id)
        self.last_partner_handle = chat.partner.handle
        for name in ("gap", "grace", "catch_up"):
            self.stop_task(name)
        if how and self.keeps_history:
            if chat.reported and how != "blocked":
                how = "reported"
            await history.conversation_closed(self.user_id, chat.id, how)

    async def end_chat(self, reason: str, record_who: bool = True) -> None:
        """End this socket's conversation and tell the partner why."""
        chat = self.chat
        if chat is None:
            return
        await self.forget_chat(chat, reason)
        await self.send_to(chat.partner.channel, {
            "type": "chat.partner_left", "conversation": chat.id, "reason": reason})
        await self.store.close_conversation(chat.id)
        await self.record_end(chat.id, reason, self.user_id if record_who else None)

    async def record_end(self, conversation_id: str, reason: str, ended_by: int | None) -> None:
        try:
            await in_db(conversations.end_conversation, conversation_id, reason, ended_by)
        except Unavailable:
            pass  # live state is already closed; the record keeps its start only

    async def close_live(self, live: LiveConversation, reason: str) -> None:
        await self.send_to(live.partner_of(self.user_id).channel, {
            "type": "chat.partner_left", "conversation": live.id, "reason": reason})
        await self.store.close_conversation(live.id)
        await self.record_end(live.id, reason, self.user_id)

    async def step_away(self, chat: Chat) -> None:
        """The socket dropped: the conversation waits for a resume during the grace window."""
        if settings.RECONNECT_GRACE_SECONDS <= 0:
            await self.end_chat("disconnected")
            return
        await self.forget_chat(chat, None)
        if await self.store.mark_away(chat.id, self.user_id, self.channel_name):
            await self.send_to(chat.partner.channel, {
                "type": "chat.partner_away", "conversation": chat.id})

    async def partner_stepped_away(self, chat: Chat) -> None:
        await self.send_frame({"type": "partner_reconnecting"})
        self.start_task("grace", self.end_after_grace(chat))

    async def end_after_grace(self, chat: Chat) -> None:
        grace_ms = settings.RECONNECT_GRACE_SECONDS * 1000
        await asyncio.sleep(settings.RECONNECT_GRACE_SECONDS)
        if self.chat is chat and await self.store.close_if_away(
                chat.id, chat.partner.user_id, grace_ms):
            await self.forget_chat(chat, "disconnected")
            await self.send_frame({"type": "partner_left", "reason": "disconnected"})
            await self.record_end(chat.id, "disconnected", chat.partner.user_id)
            # The side that dropped has no socket left to close its kept copy (if it keeps
            # one; history turned on mid-way counts too, so no keeps_history check).
            await history.conversation_closed(chat.partner.user_id, chat.id, "disconnected")

    async def close_if_expired(self, conversation_id: str) -> None:
        """A resume too late ends the conversation for good, for both sides."""
        live = await self.store.conversation_of(self.user_id)
        grace_ms = settings.RECONNECT_GRACE_SECONDS * 1000
        if live and live.id == conversation_id and await self.store.close_if_away(
                conversation_id, self.user_id, grace_ms):
            await self.send_to(live.partner_of(self.user_id).channel, {
                "type": "chat.partner_left", "conversation": conversation_id,
                "reason": "disconnected"})
            await self.record_end(conversation_id, "disconnected", self.user_id)
            await history.conversation_closed(self.user_id, conversation_id, "disconnected")

    async def check_partner(self, chat: Chat, last_seq: int, partner_alive: bool) -> None:
        """Called by the process's watchdog (chat.lifecycle) every couple of seconds: pick up
        a last line whose event was lost (events are delivered at most once; the log has them
        all), and notice a partner whose server process died without closing its socket."""
        if self.chat is not chat:
            return
        if last_seq > chat.delivery.delivered:
            await self.deliver_from_log(chat, skip_missing=False)
        if not partner_alive and "grace" not in self.tasks and await self.store.mark_away(
                chat.id, chat.partner.user_id, chat.partner.channel):
            await self.partner_stepped_away(chat)

    # ---- events from other sockets

    async def chat_matched(self, event: dict[str, Any]) -> None:
        live = await self.store.conversation_of(self.user_id)
        if live is None or live.id != event["conversation"]:
            # Closed again by the partner at once; the pairing took this user out of the queue.
            if self.searching and not self.closing:
                await self.try_match()
            return
        invited = live.contact is not None  # an accepted invitation needs no search
        if (self.searching is None and not invited) or self.chat is not None or self.closing:
            # Paired just as this socket stopped looking: the partner learns at once.
            await self.close_live(live, "left")
            return
        if invited and self.searching:
            async with self.match_lock:
                await self.matcher.cancel(self.user_id, self.channel_name)
        if invited:
            self.keeps_history = live.members[self.user_id].keeps_history
        self.stop_searching()
        await self.begin_chat(live)

    async def chat_line(self, event: dict[str, Any]) -> None:
        if self.chat and self.chat.id == event["conversation"]:
            await self.deliver(self.chat, event["line"])

    async def chat_typing(self, event: dict[str, Any]) -> None:
        if self.chat and self.chat.id == event["conversation"]:
            await self.send_frame({"type": "typing", "active": event["active"]})

    async def chat_signal(self, event: dict[str, Any]) -> None:
        if self.chat and self.chat.id == event["conversation"]:
            await self.send_frame({"type": "signal", "data": event["data"]})

    async def chat_media_state(self, event: dict[str, Any]) -> None:
        if self.chat and self.chat.id == event["conversation"]:
            await self.send_frame({"type": "media_state", "audio": event["audio"],
                                   "video": event["video"]})

    async def chat_partner_left(self, event: dict[str, Any]) -> None:
        chat = self.chat
        if chat and chat.id == event["conversation"]:
            async with self.delivery_lock:
                await self.send_lines(chat, chat.delivery.skip_gap())
            # The owner's history says who ended it; a block by the partner reads as leaving.
            how = "partner_left" if event["reason"] in ("left", "blocked") else event["reason"]
            await self.forget_chat(chat, how)
            await self.send_frame({"type": "partner_left", "reason": event["reason"]})

    async def chat_partner_away(self, event: dict[str, Any]) -> None:
        if self.chat and self.chat.id == event["conversation"]:
            await self.partner_stepped_away(self.chat)

    async def chat_partner_back(self, event: dict[str, Any]) -> None:
        chat = self.chat
        if chat and chat.id == event["conversation"]:
            chat.partner.channel = event["channel"]
            self.stop_task("grace")
            await self.send_frame({"type": "partner_back"})

    async def chat_banned(self, event: dict[str, Any]) -> None:
        """A moderator banned this user: effective at once, whichever process decided."""
        await self.end_chat("banned")
        await self.send_frame({"type": "banned", "until": event.get("until"),
                               "reason": event.get("reason", "")})
        await self.close(code=CLOSE_FORBIDDEN)

    async def chat_muted(self, event: dict[str, Any]) -> None:
        until = event.get("until")
        self.muted_until = (datetime.fromisoformat(until.replace("Z", "+00:00")) if until
                            else datetime.max.replace(tzinfo=UTC))

    async def chat_account_closed(self, event: dict[str, Any]) -> None:
        """The user deleted the account: the partner sees an ordinary goodbye."""
        if self.chat:
            await self.end_chat("left", record_who=False)  # the user row is already gone
        await self.close(code=CLOSE_NOT_LOGGED_IN)

    async def chat_replaced(self, event: dict[str, Any]) -> None:
        await self.send_frame({"type": "error", "code": "replaced",
                               "detail": "this account opened a newer socket"})
        await self.close(code=CLOSE_REPLACED)

    # ---- delivery

    async def deliver(self, chat: Chat, line: dict[str, Any]) -> None:
        async with self.delivery_lock:
            await self.send_lines(chat, chat.delivery.push(line))
        if chat.delivery.has_gap and "gap" not in self.tasks:
            self.start_task("gap", self.fill_gap(chat))

    async def fill_gap(self, chat: Chat) -> None:
        await asyncio.sleep(GAP_WAIT_SECONDS)
        if chat.delivery.has_gap:
            await self.deliver_from_log(chat, skip_missing=True)

    async def catch_up(self, chat: Chat) -> None:
        for delay in CATCH_UP_AFTER_RESUME_SECONDS:
            await asyncio.sleep(delay)
            if self.chat is not chat:
                return
            await self.deliver_from_log(chat, skip_missing=False)

    async def deliver_from_log(self, chat: Chat, skip_missing: bool) -> None:
        missed = await self.store.lines_after(chat.id, chat.delivery.delivered)
        async with self.delivery_lock:
            for line in missed:
                await self.send_lines(chat, chat.delivery.push(line))
            if skip_missing:
                # Whatever the log no longer has is gone; do not hold back what follows it.
                await self.send_lines(chat, chat.delivery.skip_gap())

    async def send_lines(self, chat: Chat, lines: list[dict[str, Any]]) -> None:
        for line in lines:
            frame = message_frame(chat.id, line, self.user_id)
            await self.send_frame(frame)
            if self.keeps_history:
                await history.line_seen(self.user_id, chat.id, frame)

    async def send_frame(self, frame: dict[str, Any]) -> None:
        await self.send(text_data=to_json(frame))

    async def send_to(self, channel: str, event: dict[str, Any]) -> None:
        try:
            await self.channel_layer.send(channel, event)
        except ChannelFull:
            # Raised by the embedded default's InMemoryChannelLayer once the receiving socket's
            # queue holds CHANNEL_CAPACITY events (the Redis pub/sub layer never raises it).
            # A reader that cannot keep up loses live events, never lines: those are in the
            # conversation log and reach it when it catches up.
            log.warning("channel full, event %s dropped", event.get("type"))

    # ---- background tasks, one of each kind at a time

    def start_task(self, name: str, coroutine: Any) -> None:
        self.stop_task(name)
        task = asyncio.create_task(self._run_task(name, coroutine))
        self.tasks[name] = task

    async def _run_task(self, name: str, coroutine: Any) -> None:
        try:
            await coroutine
        except asyncio.CancelledError:
            pass
        except Exception as error:
            log_failure(f"{name} task", error)
        finally:
            if self.tasks.get(name) is asyncio.current_task():
                del self.tasks[name]

    def stop_task(self, name: str) -> None:
        task = self.tasks.pop(name, None)
        if task and task is not asyncio.current_task():
            task.cancel()
