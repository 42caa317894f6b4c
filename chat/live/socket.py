"""One live socket's own state: who is connected from where, its strikes and rate limits, its
background tasks, and the way frames and events leave it. Every handler of `chat.live`
receives the `Socket`; the consumer (`chat.consumers`) only creates it and routes to it."""
from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from channels.db import database_sync_to_async
from channels.exceptions import ChannelFull
from channels.layers import BaseChannelLayer
from django.conf import settings
from django.db import DatabaseError

from chat.matching import Seeker
from chat.protocol import FrameError
from chat.relay import to_json

if TYPE_CHECKING:
    from chat.conversations import SearchProfile
    from chat.matching import RedisMatcher
    from chat.store import RedisStore

log = logging.getLogger(__name__)

CLOSE_FLOODING = 4008

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


class Tasks:
    """Background tasks by name, one of each kind at a time; a failure is logged, never
    raised into the socket."""

    def __init__(self) -> None:
        self.running: dict[str, asyncio.Task] = {}

    def __contains__(self, name: str) -> bool:
        return name in self.running

    def start(self, name: str, coroutine: Coroutine[Any, Any, Any]) -> None:
        self.stop(name)
        self.running[name] = asyncio.create_task(self._run(name, coroutine))

    async def _run(self, name: str, coroutine: Coroutine[Any, Any, Any]) -> None:
        try:
            await coroutine
        except asyncio.CancelledError:
            pass
        except Exception as error:
            log_failure(f"{name} task", error)
        finally:
            if self.running.get(name) is asyncio.current_task():
                del self.running[name]

    def stop(self, name: str) -> None:
        task = self.running.pop(name, None)
        if task and task is not asyncio.current_task():
            task.cancel()

    def stop_all(self) -> None:
        for name in list(self.running):
            self.stop(name)


class Consumer(Protocol):
    """What a socket needs of the consumer that accepted it (`chat.consumers.ChatConsumer`),
    named here so that `chat.live` never imports the consumer: imports inside chat run one
    way, the consumer -> its handlers -> the socket."""

    scope: dict[str, Any]
    channel_name: str
    channel_layer: BaseChannelLayer

    async def send(self, text_data: str | None = None) -> None: ...

    async def close(self, code: int | None = None) -> None: ...


class Partner(Protocol):
    @property
    def user_id(self) -> int: ...


class InConversation(Protocol):
    """What a socket needs of the conversation it is in (`chat.live.conversation.
    Conversation`, which imports this module, so not the other way round)."""

    @property
    def id(self) -> str: ...

    @property
    def partner(self) -> Partner: ...

    @property
    def tasks(self) -> Tasks: ...


# The socket's conversation: to the handlers, a `Conversation`; to the socket, what it needs.
ConversationT = TypeVar("ConversationT", bound=InConversation)


class Socket(Generic[ConversationT]):
    """The state of one accepted, logged-in socket, and how it speaks."""

    def __init__(self, consumer: Consumer, address: str,
                 store: RedisStore, matcher: RedisMatcher,
                 muted_until: datetime | None) -> None:
        user = consumer.scope["user"]
        self.consumer = consumer
        self.channel_name: str = consumer.channel_name
        self.user_id: int = user.id
        self.handle: str = user.username
        self.keeps_history: bool = user.keeps_history
        self.address = address
        self.store = store
        self.matcher = matcher
        self.muted_until = muted_until
        self.closing = False
        self.tasks = Tasks()
        # Matching decisions of this socket run one at a time (the frame handlers and the
        # retry loop), and lines are handed to the socket one batch at a time.
        self.match_lock = asyncio.Lock()
        self.delivery_lock = asyncio.Lock()
        self.conversation: ConversationT | None = None
        self.searching: Seeker | None = None
        self.find_started: float | None = None  # when the search began, for the metrics
        self.queue_status = False  # the client asked for `queue` frames while searching
        # Invitations offered on this socket: each is offered once, even when it comes both
        # from what waited at connect and as its event (chat.live.contacts.offer).
        self.invitations_offered: set[str] = set()
        # What `find` needs of the user, read at connect (chat.live.searching).
        self.profile: SearchProfile | None = None
        self._last_conversation: tuple[str, int] | None = None
        self.left_at_ms = 0
        self.last_partner_handle = ""

    @property
    def last_conversation(self) -> tuple[str, int] | None:
        """(id, partner id) of the conversation the socket was in last, once it left it."""
        return self._last_conversation

    @last_conversation.setter
    def last_conversation(self, value: tuple[str, int] | None) -> None:
        self._last_conversation = value
        self.left_at_ms = int(time.time() * 1000)  # matching's last-partner rule counts from it

    # ---- speaking

    async def send_frame(self, frame: dict[str, Any]) -> None:
        await self.consumer.send(text_data=to_json(frame))

    async def send_to(self, channel: str, event: dict[str, Any]) -> None:
        try:
            await self.consumer.channel_layer.send(channel, event)
        except ChannelFull:
            # Raised by the embedded default's InMemoryChannelLayer once the receiving socket's
            # queue holds CHANNEL_CAPACITY events (the Redis pub/sub layer never raises it).
            # A reader that cannot keep up loses live events, never lines: those are in the
            # conversation log and reach it when it catches up.
            log.warning("channel full, event %s dropped", event.get("type"))

    async def close(self, code: int) -> None:
        await self.consumer.close(code=code)

    # ---- background tasks of the socket (a conversation has its own)

    def start_task(self, name: str, coroutine: Coroutine[Any, Any, Any]) -> None:
        self.tasks.start(name, coroutine)

    def stop_task(self, name: str) -> None:
        self.tasks.stop(name)

    def stop_all_tasks(self) -> None:
        self.tasks.stop_all()
        if self.conversation:
            self.conversation.tasks.stop_all()

    # ---- limits

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
            await self.close(CLOSE_FLOODING)

    # ---- what a frame may refer to

    def require_conversation(self) -> ConversationT:
        if self.conversation is None:
            raise FrameError("not_in_conversation", "you are not in a conversation")
        return self.conversation

    def in_conversation(self, event: dict[str, Any]) -> ConversationT | None:
        """The socket's conversation, if the partner's `event` is about it."""
        conversation = self.conversation
        return conversation if conversation and conversation.id == event["conversation"] else None

    def current_or_last_partner(self) -> tuple[str, int]:
        if self.conversation:
            return self.conversation.id, self.conversation.partner.user_id
        if self.last_conversation:
            return self.last_conversation
        raise FrameError("not_in_conversation", "there is no current or last partner")
