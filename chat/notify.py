"""Telling a user's live socket something from outside it, and chat's answers to
`chatsite.plumbing.live` (how moderation and accounts reach sockets without importing chat).

The socket registry and the live log are read with the store's plain sync client, so a task
or a purge over many users opens no event loop and no client per call; only the channel
layer's send (an asyncio API) is wrapped for sync callers."""
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.dispatch import receiver

from chat.store import get_store
from chatsite.plumbing import live


async def notify_user(user_id: int, event: dict[str, Any]) -> bool:
    """Send a channel-layer event to the user's live socket, on whichever process holds it.

    Events the socket understands: `{"type": "chat.banned", "until": iso or None,
    "reason": str}` and `{"type": "chat.account_closed"}`. False when the user has no socket."""
    channel = await get_store().socket_of(user_id)
    if not channel:
        return False
    await get_channel_layer().send(channel, event)
    return True


def notify_user_sync(user_id: int, event: dict[str, Any]) -> bool:
    """`notify_user` for views, admin actions and Celery tasks."""
    channel = get_store().socket_now(user_id)
    if not channel:
        return False
    async_to_sync(get_channel_layer().send)(channel, event)
    return True


@receiver(live.user_event, dispatch_uid="chat.notify.user_event")
def deliver_event(sender: Any, user_id: int, event: dict[str, Any], **_: Any) -> bool:
    return notify_user_sync(user_id, event)


@receiver(live.socket_query, dispatch_uid="chat.notify.socket_query")
def answer_socket_query(sender: Any, user_id: int, **_: Any) -> bool:
    return get_store().socket_now(user_id) is not None


@receiver(live.lines_query, dispatch_uid="chat.notify.lines_query")
def answer_lines_query(sender: Any, conversation: str, **_: Any) -> list[dict[str, Any]]:
    return get_store().lines_now(conversation)
