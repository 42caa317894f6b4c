"""The live socket `/ws/chat/` (PROTOCOL.md section 2).

The consumer parses frames, keeps the socket's own state (searching, in a conversation) and
calls the services: `chat.matching` pairs, `chat.store` holds shared live state,
`chat.conversations` and `moderation.reports` write the database.
"""
from __future__ import annotations

import asyncio
import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from chat import conversations
from chat.matching import NOT_QUEUED, Pairing, Seeker, get_matcher
from chat.protocol import FrameError, parse_frame
from chat.relay import OrderedDelivery, message_frame, utc_now_iso
from chat.store import LiveConversation, get_store
from moderation.reports import file_report

log = logging.getLogger(__name__)

CLOSE_NOT_LOGGED_IN = 4001
CLOSE_FORBIDDEN = 4003
CLOSE_FLOODING = 4008
CLOSE_REPLACED = 4009

# How long an out-of-order line waits for the ones before it before the log is read.
GAP_WAIT_SECONDS = 0.5


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


class ChatConsumer(AsyncWebsocketConsumer):
    user_id: int
    chat: Chat | None = None
    searching: Seeker | None = None
    search_task: asyncio.Task | None = None
    gap_task: asyncio.Task | None = None
    last_conversation: tuple[str, int] | None = None  # (id, partner id) after it ended
    closing = False

    async def connect(self) -> None:
        user = self.scope.get("user")
        await self.accept()
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_NOT_LOGGED_IN)
            return
        self.user_id = user.id
        self.handle = user.username
        self.keeps_history = user.keeps_history
        self.store = get_store()
        self.matcher = get_matcher()
        # Matching decisions of this socket run one at a time (the frame handlers and the
        # retry loop), and lines are handed to the socket one batch at a time.
        self.match_lock = asyncio.Lock()
        self.delivery_lock = asyncio.Lock()
        replaced = await self.store.claim_socket(self.user_id, self.channel_name)
        if replaced:
            await self.channel_layer.send(replaced, {"type": "chat.replaced"})
        await self.send_frame({"type": "welcome", "handle": self.handle,
                               "keeps_history": self.keeps_history})

    async def disconnect(self, code: int) -> None:
        if not hasattr(self, "store"):
            return
        self.closing = True
        for task in (self.search_task, self.gap_task):
            if task and task is not asyncio.current_task():
                task.cancel()
        async with self.match_lock:
            if self.searching:
                self.searching = None
                await self.matcher.cancel(self.user_id, self.channel_name)
        if self.chat:
            await self.end_chat("disconnected")
        else:
            # A partner may have paired with this socket just as it closed.
            live = await self.store.conversation_of(self.user_id)
            if live and live.members.get(self.user_id) == self.channel_name:
                await self.end_live(live, "disconnected")
        await self.store.release_socket(self.user_id, self.channel_name)

    # ---- frames from the client

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            frame = parse_frame(text_data)
            if frame["type"] != "message":
                await self.check_rate("frames", settings.FRAME_RATE_LIMIT)
            await getattr(self, "on_" + frame["type"])(frame)
        except FrameError as error:
            await self.send_frame(error.frame())

    async def check_rate(self, kind: str, rate: str) -> None:
        retry_after = await self.store.hit(f"{kind}:{self.user_id}", rate)
        if retry_after is None:
            return
        if await self.store.hit(f"strikes:{self.user_id}", f"{settings.RATE_LIMIT_STRIKES}/m"):
            await self.send_frame({"type": "error", "code": "rate_limited",
                                   "detail": "too many frames; closing", "retry_after": 60})
            await self.close(code=CLOSE_FLOODING)
        raise FrameError("rate_limited", "slow down", retry_after=retry_after)

    async def on_ping(self, frame: dict[str, Any]) -> None:
        await self.send_frame({"type": "pong"})

    async def on_find(self, frame: dict[str, Any]) -> None:
        if self.chat:
            raise FrameError("already_searching", "already in a conversation; leave it first")
        if self.searching:
            raise FrameError("already_searching", "already looking for a partner")
        excluded = await database_sync_to_async(conversations.exclusions_for)(self.user_id)
        self.searching = Seeker(
            user_id=self.user_id, channel=self.channel_name, mode=frame["mode"],
            lang=frame["lang"], interests=frame["interests"], excluded=excluded,
            handle=self.handle, keeps_history=self.keeps_history,
        )
        await self.send_frame({"type": "searching", "mode": frame["mode"]})
        await self.try_match()
        if self.searching:
            self.search_task = asyncio.create_task(self.keep_searching())

    async def on_cancel(self, frame: dict[str, Any]) -> None:
        if not self.searching:
            if self.chat:
                raise FrameError("already_searching", "in a conversation; use leave")
            await self.send_frame({"type": "cancelled"})
            return
        async with self.match_lock:
            if self.searching and await self.matcher.cancel(self.user_id, self.channel_name):
                self.stop_searching()
                await self.send_frame({"type": "cancelled"})
        # Otherwise this user has just been paired: `matched` is on its way or was sent.

    async def on_message(self, frame: dict[str, Any]) -> None:
        chat = self.require_chat()
        await self.check_rate("lines", settings.MESSAGE_RATE_LIMIT)
        line = {"sender": self.user_id, "text": frame["text"], "ts": utc_now_iso(),
                "filtered": False, "client_id": frame["client_id"]}
        line["seq"] = await self.store.append_line(chat.id, line)
        # The partner's copy goes first: the acknowledgement promises it is on its way.
        await self.channel_layer.send(chat.partner.channel,
                                      {"type": "chat.line", "conversation": chat.id, "line": line})
        await self.deliver(chat, line)

    async def on_typing(self, frame: dict[str, Any]) -> None:
        chat = self.require_chat()
        await self.channel_layer.send(chat.partner.channel, {
            "type": "chat.typing", "conversation": chat.id, "active": frame["active"]})

    async def on_signal(self, frame: dict[str, Any]) -> None:
        chat = self.require_chat()
        if chat.mode == "text":
            raise FrameError("bad_frame", "signals belong to voice and video conversations")
        await self.channel_layer.send(chat.partner.channel, {
            "type": "chat.signal", "conversation": chat.id, "data": frame["data"]})

    async def on_leave(self, frame: dict[str, Any]) -> None:
        chat = self.require_chat()
        await self.end_chat("left")
        await self.send_frame({"type": "ended", "conversation": chat.id})

    async def on_block(self, frame: dict[str, Any]) -> None:
        conversation_id, partner_id = self.current_or_last_partner()
        await database_sync_to_async(conversations.block_user)(
            self.user_id, partner_id, conversation_id)
        if self.chat and self.chat.id == conversation_id:
            await self.end_chat("blocked")
            await self.send_frame({"type": "ended", "conversation": conversation_id})
        await self.send_frame({"type": "blocked"})

    async def on_report(self, frame: dict[str, Any]) -> None:
        conversation_id, partner_id = self.current_or_last_partner()
        await self.check_rate("reports", settings.REPORT_RATE_LIMIT)
        report = await database_sync_to_async(file_report)(
            self.user_id, partner_id, conversation_id, frame["reason"], frame["note"])
        await self.send_frame({"type": "reported", "report": report.pk})

    async def on_resume(self, frame: dict[str, Any]) -> None:
        # Conversations end when a side's socket closes, so there is nothing to resume yet.
        raise FrameError("not_in_conversation", "that conversation is over")

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
        """Renew the queue lease and retry, so the interest fallback happens on time."""
        interval = max(1.0, min(settings.MATCH_LEASE_SECONDS / 3,
                                settings.MATCH_INTEREST_WAIT_SECONDS or 1))
        missing = 0
        try:
            while self.searching and not self.closing:
                await asyncio.sleep(interval)
                if await self.try_match(renew=True) != NOT_QUEUED:
                    missing = 0
                    continue
                # Taken out by a partner's process: `matched` normally arrives at once. A
                # seeker still waiting a round later had lost its lease; it queues again.
                missing += 1
                if missing > 1:
                    missing = 0
                    await self.try_match()
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("search loop failed")

    def stop_searching(self) -> None:
        self.searching = None
        if self.search_task and self.search_task is not asyncio.current_task():
            self.search_task.cancel()
        self.search_task = None

    async def start_chat(self, pairing: Pairing) -> None:
        """This socket's search found `pairing.waiting`: open the conversation for both."""
        waiting, seeker = pairing.waiting, pairing.seeker
        conversation_id = str(uuid.uuid4())
        self.stop_searching()
        await database_sync_to_async(conversations.start_conversation)(
            conversation_id, seeker.mode, waiting.user_id, seeker.user_id,
            pairing.common_interests)
        await self.store.open_conversation(LiveConversation(
            id=conversation_id, mode=seeker.mode,
            members={waiting.user_id: waiting.channel, seeker.user_id: seeker.channel}))
        # The user who waited makes the WebRTC offer.
        await self.channel_layer.send(waiting.channel, {
            "type": "chat.matched", "conversation": conversation_id, "mode": seeker.mode,
            "partner": {"user_id": seeker.user_id, "handle": seeker.handle,
                        "keeps_history": seeker.keeps_history, "channel": seeker.channel},
            "common_interests": pairing.common_interests, "initiator": True,
        })
        await self.begin_chat(Chat(
            id=conversation_id, mode=seeker.mode, initiator=False,
            common_interests=pairing.common_interests,
            partner=Partner(waiting.user_id, waiting.handle, waiting.keeps_history,
                            waiting.channel)))

    async def begin_chat(self, chat: Chat) -> None:
        self.chat = chat
        await self.send_frame({
            "type": "matched", "conversation": chat.id, "mode": chat.mode,
            "partner": {"handle": chat.partner.handle,
                        "keeps_history": chat.partner.keeps_history},
            "common_interests": chat.common_interests, "initiator": chat.initiator,
            "ice_servers": [],
        })

    # ---- ending

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

    async def end_chat(self, reason: str) -> None:
        """End this socket's conversation on its side and tell the partner why."""
        chat = self.chat
        if chat is None:
            return
        self.chat = None
        self.last_conversation = (chat.id, chat.partner.user_id)
        if self.gap_task:
            self.gap_task.cancel()
        await self.channel_layer.send(chat.partner.channel, {
            "type": "chat.partner_left", "conversation": chat.id, "reason": reason})
        await database_sync_to_async(conversations.end_conversation)(chat.id, reason, self.user_id)
        await self.store.close_conversation(chat.id)

    async def end_live(self, live: LiveConversation, reason: str) -> None:
        for user_id, channel in live.members.items():
            if user_id != self.user_id:
                await self.channel_layer.send(channel, {
                    "type": "chat.partner_left", "conversation": live.id, "reason": reason})
        await database_sync_to_async(conversations.end_conversation)(live.id, reason, self.user_id)
        await self.store.close_conversation(live.id)

    # ---- events from other sockets

    async def chat_matched(self, event: dict[str, Any]) -> None:
        partner = Partner(**event["partner"])
        if self.searching is None or self.chat is not None or self.closing:
            # Paired just as this socket stopped looking: the partner learns at once.
            await self.channel_layer.send(partner.channel, {
                "type": "chat.partner_left", "conversation": event["conversation"],
                "reason": "left"})
            await database_sync_to_async(conversations.end_conversation)(
                event["conversation"], "left", self.user_id)
            await self.store.close_conversation(event["conversation"])
            return
        self.stop_searching()
        await self.begin_chat(Chat(id=event["conversation"], mode=event["mode"],
                                   initiator=event["initiator"], partner=partner,
                                   common_interests=event["common_interests"]))

    async def chat_line(self, event: dict[str, Any]) -> None:
        if self.chat and self.chat.id == event["conversation"]:
            await self.deliver(self.chat, event["line"])

    async def chat_typing(self, event: dict[str, Any]) -> None:
        if self.chat and self.chat.id == event["conversation"]:
            await self.send_frame({"type": "typing", "active": event["active"]})

    async def chat_signal(self, event: dict[str, Any]) -> None:
        if self.chat and self.chat.id == event["conversation"]:
            await self.send_frame({"type": "signal", "data": event["data"]})

    async def chat_partner_left(self, event: dict[str, Any]) -> None:
        chat = self.chat
        if chat and chat.id == event["conversation"]:
            self.chat = None
            self.last_conversation = (chat.id, chat.partner.user_id)
            if self.gap_task:
                self.gap_task.cancel()
            async with self.delivery_lock:
                await self.send_lines(chat, chat.delivery.skip_gap())
            await self.send_frame({"type": "partner_left", "reason": event["reason"]})

    async def chat_replaced(self, event: dict[str, Any]) -> None:
        await self.send_frame({"type": "error", "code": "replaced",
                               "detail": "this account opened a newer socket"})
        await self.close(code=CLOSE_REPLACED)

    # ---- delivery

    async def deliver(self, chat: Chat, line: dict[str, Any]) -> None:
        async with self.delivery_lock:
            await self.send_lines(chat, chat.delivery.push(line))
        if chat.delivery.has_gap and not self.gap_task:
            self.gap_task = asyncio.create_task(self.fill_gap(chat))

    async def fill_gap(self, chat: Chat) -> None:
        try:
            await asyncio.sleep(GAP_WAIT_SECONDS)
            if not chat.delivery.has_gap:
                return
            missed = await self.store.lines_after(chat.id, chat.delivery.delivered)
            async with self.delivery_lock:
                for line in missed:
                    await self.send_lines(chat, chat.delivery.push(line))
                # Whatever the log no longer has is gone; do not hold back what follows it.
                await self.send_lines(chat, chat.delivery.skip_gap())
        except asyncio.CancelledError:
            pass
        finally:
            self.gap_task = None

    async def send_lines(self, chat: Chat, lines: list[dict[str, Any]]) -> None:
        for line in lines:
            await self.send_frame(message_frame(chat.id, line, self.user_id))

    async def send_frame(self, frame: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(frame, ensure_ascii=False))
