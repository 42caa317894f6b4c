"""The one interface through which code below `chat` reaches the live socket.

`moderation` and `accounts` may not import `chat` (the import rule in pyproject.toml), yet a
ban, a mute, an erasure or a purge has to reach a user's socket or read the live log. They
call the functions here; `chat.notify` answers them (it connects its receivers when the chat
app is ready). With no receiver connected (a process without the chat app) every call is a
no-op that says so: no socket, no lines.

- `notify_user_on_commit(user_id, event)`: the event reaches the user's live socket once the
  current transaction commits (at once outside one); a rolled-back decision tells nobody, and
  a channel layer that is down does not undo the decision (robust).
- `has_live_socket(user_id)`: whether the user has a live socket on any process.
- `live_lines(conversation)`: the conversation's decrypted lines from the live log, while it
  keeps them.
"""
from __future__ import annotations

from typing import Any

from django.db import transaction
from django.dispatch import Signal

# Receivers: (user_id: int, event: dict) -> bool (whether a socket was reached).
user_event = Signal()
# Receivers: (user_id: int) -> bool.
socket_query = Signal()
# Receivers: (conversation: str) -> list of line dicts.
lines_query = Signal()


def _answers(signal: Signal, **kwargs: Any) -> list[Any]:
    return [answer for _, answer in signal.send(sender=None, **kwargs)]


def notify_user(user_id: int, event: dict[str, Any]) -> bool:
    """Tell the user's live socket now; False when no socket was reached."""
    return any(_answers(user_event, user_id=user_id, event=event))


def notify_user_on_commit(user_id: int, event: dict[str, Any]) -> None:
    transaction.on_commit(lambda: notify_user(user_id, event), robust=True)


def has_live_socket(user_id: int) -> bool:
    return any(_answers(socket_query, user_id=user_id))


def live_lines(conversation: str) -> list[dict[str, Any]]:
    for lines in _answers(lines_query, conversation=conversation):
        return list(lines)
    return []
