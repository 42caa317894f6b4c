"""The server process's side of staying up: a heartbeat that tells other processes this one
is alive, a watchdog that looks after this process's conversations, and a graceful shutdown
that closes every socket with 1012 so clients reconnect (and resume) at once elsewhere."""
from __future__ import annotations

import asyncio
import logging
import signal
import time
import weakref
from collections.abc import Callable
from typing import Any, Protocol

from chat.history import flush_history
from chat.store import LiveStore, process_of
from chatsite.plumbing.runtime import runtime
from moderation.analysis import flush_relayed

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 2
# How often the watchdog checks every conversation of this process, all in one round trip.
WATCHDOG_SECONDS = 2
HEARTBEAT_TTL_SECONDS = 6
# Every 15 beats (30 s) this process renews its sockets' places in the per-address counts.
ADDRESS_REFRESH_BEATS = 15
# Answers about other processes' heartbeats kept before the stale ones are dropped.
ALIVE_CACHE_SIZE = 256
CLOSE_SERVICE_RESTART = 1012
CLOSE_TRY_AGAIN_LATER = 1013
# Time for the 1012 close frames to leave before the process stops.
SHUTDOWN_FLUSH_SECONDS = 0.5


class LiveSocket(Protocol):
    channel_name: str
    address: str

    async def close(self, code: int) -> None: ...


class Partner(Protocol):
    channel: str


class WatchedConversation(Protocol):
    """A live conversation of this process (chat.live.conversation.Conversation)."""

    id: str
    partner: Partner

    async def watch(self, last_seq: int, partner_alive: bool) -> None: ...


class Tracked:
    """What this process looks after: its live sockets (closed at shutdown, counted by the
    metrics), its live conversations (walked by the watchdog), the heartbeat and watchdog
    started on each event loop, and what it last heard of other processes' heartbeats. Held
    by the process's runtime (`chatsite.plumbing.runtime`), not by this module."""

    def __init__(self) -> None:
        self.sockets: weakref.WeakSet[LiveSocket] = weakref.WeakSet()
        self.conversations: weakref.WeakSet[WatchedConversation] = weakref.WeakSet()
        self.started: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = \
            weakref.WeakKeyDictionary()
        self.alive: dict[str, tuple[float, bool]] = {}  # process -> (when asked, alive)


def tracked() -> Tracked:
    return runtime().part("lifecycle", Tracked)


def register(consumer: LiveSocket, store: LiveStore) -> None:
    """Track a live socket; the first one on a loop starts the heartbeat and the handler."""
    state = tracked()
    state.sockets.add(consumer)
    loop = asyncio.get_running_loop()
    if loop in state.started:
        return
    state.started[loop] = (
        asyncio.create_task(_heartbeat(store, process_of(consumer.channel_name))),
        asyncio.create_task(_watchdog(store)))
    _install_sigterm(loop)


def live_sockets() -> list[LiveSocket]:
    """This process's live sockets (the metrics count them by state)."""
    return list(tracked().sockets)


def unregister(consumer: LiveSocket) -> None:
    """The socket has closed and given back what it held."""
    tracked().sockets.discard(consumer)


def watch(conversation: WatchedConversation) -> None:
    """The watchdog looks after `conversation` while a socket of this process is in it."""
    tracked().conversations.add(conversation)


def unwatch(conversation: WatchedConversation) -> None:
    tracked().conversations.discard(conversation)


def registered() -> int:
    """Live sockets this process tracks (tests read it to see nothing is left behind)."""
    return len(tracked().sockets)


async def _heartbeat(store: LiveStore, process: str) -> None:
    beats = 0
    while True:
        try:
            await store.beat(process, HEARTBEAT_TTL_SECONDS)
            if beats % ADDRESS_REFRESH_BEATS == 0:
                await store.refresh_address_sockets(
                    [(s.address, s.channel_name) for s in live_sockets()])
        except Exception:
            log.warning("heartbeat failed", exc_info=True)
        beats += 1
        await asyncio.sleep(HEARTBEAT_SECONDS)


async def _watchdog(store: LiveStore) -> None:
    """One pass over this process's conversations every WATCHDOG_SECONDS: their last line
    numbers in one round trip, and whether each partner's process still beats. A timer per
    socket would wake hundreds of sockets at once, each with a round trip of its own."""
    while True:
        await asyncio.sleep(WATCHDOG_SECONDS)
        try:
            conversations = list(tracked().conversations)
            last_seqs = await store.last_seqs([c.id for c in conversations])
            for conversation, last_seq in zip(conversations, last_seqs, strict=True):
                alive = await process_alive(store, conversation.partner.channel)
                await conversation.watch(last_seq, alive)
        except Exception:
            log.warning("watchdog pass failed", exc_info=True)


async def process_alive(store: LiveStore, channel: str) -> bool:
    """Whether the process holding `channel` still beats; answered at most once a second."""
    process = process_of(channel)
    now = time.monotonic()
    heard = tracked().alive
    cached = heard.get(process)
    if cached and now - cached[0] < 1:
        return cached[1]
    try:
        alive = await store.process_alive(process)
    except Exception:
        alive = True  # Redis unreachable says nothing about the partner's process
    if len(heard) > ALIVE_CACHE_SIZE:  # processes come and go: forget the stale answers
        for stale in [p for p, (asked, _) in heard.items() if now - asked >= 1]:
            del heard[stale]
    heard[process] = (now, alive)
    return alive


def _install_sigterm(loop: asyncio.AbstractEventLoop) -> None:
    # daphne's reactor registers its SIGTERM handler on the asyncio loop; take it over so the
    # sockets are closed with 1012 first, then hand over to it to stop the server.
    handlers = getattr(loop, "_signal_handlers", {})
    previous_handle = handlers.get(signal.SIGTERM)
    previous_signal = signal.getsignal(signal.SIGTERM)

    def stop_server() -> None:
        if previous_handle is not None:
            previous_handle._run()
        elif callable(previous_signal):
            previous_signal(signal.SIGTERM, None)
        else:
            raise SystemExit(0)

    def on_sigterm() -> None:
        asyncio.ensure_future(_shutdown(stop_server))

    try:
        loop.add_signal_handler(signal.SIGTERM, on_sigterm)
    except (ValueError, RuntimeError, NotImplementedError):
        pass  # not the main thread (tests): there is no process to shut down


async def _shutdown(stop_server: Callable[[], None]) -> None:
    sockets = live_sockets()
    log.warning("SIGTERM: closing %d sockets with 1012", len(sockets))
    await asyncio.gather(*(s.close(code=CLOSE_SERVICE_RESTART) for s in sockets),
                         return_exceptions=True)
    await asyncio.sleep(SHUTDOWN_FLUSH_SECONDS)
    try:
        # What waits in memory is written before stopping: kept history, lines for analysis.
        await flush_history()
        await flush_relayed()
    except Exception:
        log.exception("not flushed at shutdown")
    await runtime().aclose()  # the process's Redis clients, closed before the loop stops
    stop_server()


def allow_service_close_codes() -> None:
    """Let the server send 1012 (service restart) and 1013 (try again later).

    Both are registered WebSocket close codes that the contract uses, but autobahn, under
    daphne, only lets an application send 1000 or 3000-4999. Those two codes go out as plain
    close frames; everything else keeps autobahn's checks."""
    try:
        from daphne.ws_protocol import WebSocketProtocol
    except ImportError:
        return
    if getattr(WebSocketProtocol, "_service_codes_allowed", False):
        return
    original = WebSocketProtocol.serverClose

    def server_close(self: WebSocketProtocol, code: int | None = None) -> None:
        if code in (CLOSE_SERVICE_RESTART, CLOSE_TRY_AGAIN_LATER):
            self.sendCloseFrame(code=code, isReply=False)
        else:
            original(self, code)

    WebSocketProtocol.serverClose = server_close
    WebSocketProtocol._service_codes_allowed = True
