"""Telling a user's live socket something from outside it (a moderator's ban, an erasure)."""
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from chat.store import get_store


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
    return async_to_sync(notify_user)(user_id, event)
