"""The socket's own loop: Channels' consumer loop (`AsyncConsumer.__call__`), cheaper per
frame. Channels makes a task for each frame and waits on it and the channel layer's receive
with `asyncio.wait`; here the socket's frames are awaited in the application's own task, the
channel layer's events in one task of their own for the socket's life, and a `turn` lets one
handler run at a time, in the order they came (the matching and relay rules rely on a socket
handling one frame or event at a time). The chat consumer (`chat.consumers`) is built on it."""
from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable
from typing import Any

from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from channels.sessions import InstanceSessionWrapper

from chat.live import lines


def unwrapped_send(send: Callable[[dict[str, Any]], Awaitable[None]]
                   ) -> Callable[[dict[str, Any]], Awaitable[None]]:
    """The server's own `send` under channels' session middleware: its wrapper only saves the
    session and sets its cookie on an HTTP response (`http.response.start`), which a WebSocket
    never sends, yet costs every frame two lookups through the lazy session."""
    wrapper = getattr(send, "__self__", None)
    return wrapper.real_send if isinstance(wrapper, InstanceSessionWrapper) else send


class SocketLoopConsumer(AsyncWebsocketConsumer):
    """A WebSocket consumer whose frames and events run one at a time through `dispatch`."""

    async def __call__(self, scope: dict[str, Any],
                       receive: Callable[[], Awaitable[dict[str, Any]]],
                       send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        self.base_send = unwrapped_send(send)
        turn = asyncio.Lock()
        stopped: list[BaseException] = []  # why the events' task ended the socket, if it did
        events = None
        if self.channel_layer is not None:
            self.channel_name = await self.channel_layer.new_channel()
            self.channel_receive = functools.partial(self.channel_layer.receive,
                                                     self.channel_name)
            events = asyncio.create_task(
                self.dispatch_events(turn, asyncio.current_task(), stopped))
        try:
            while True:
                message = await receive()
                async with turn:
                    await self.dispatch(message)
        except StopConsumer:
            pass
        except asyncio.CancelledError:
            if not stopped:
                raise  # the server cancelled the application
            if not isinstance(stopped[0], StopConsumer):
                raise stopped[0] from None
        finally:
            lines.here().pop(getattr(self, "channel_name", ""), None)  # however it ended
            if events is not None:
                events.cancel()  # its receive gives the channel back to the layer
                with contextlib.suppress(asyncio.CancelledError):
                    await events

    async def dispatch_events(self, turn: asyncio.Lock, frames: asyncio.Task | None,
                              stopped: list[BaseException]) -> None:
        """The channel layer's events, one at a time, each in its `turn`. A failure to receive
        ends the socket, as it ended channels' loop."""
        try:
            while True:
                event = await self.channel_receive()
                async with turn:
                    await self.dispatch(event)
        except asyncio.CancelledError:
            raise
        except BaseException as error:  # noqa: BLE001 - handed to the frames' task
            stopped.append(error)
            if frames is not None:
                frames.cancel()
