"""Helpers for the history and export tests: users who keep history and their kept copies."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from django.test import Client

from accounts.models import User
from chat.history import SeenConversation, SeenLine, write_events


def make_user(name: str, keeps_history: bool = True) -> User:
    return User.objects.create_user(username=name, password="x-pass-123",
                                    keeps_history=keeps_history)


def keep(owner: User, texts: list[str], partner: str = "PartnerFox",
         started: datetime | None = None) -> str:
    """A conversation kept for `owner`, as the live socket would report it."""
    conversation_id = str(uuid.uuid4())
    started = started or datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    events = [SeenConversation(owner.id, conversation_id, "text", partner, started.isoformat())]
    events += [SeenLine(owner.id, conversation_id, f"{conversation_id}.{seq}", seq % 2 == 1, text,
                        (started + timedelta(seconds=seq)).isoformat(), False)
               for seq, text in enumerate(texts, start=1)]
    write_events(events)
    return conversation_id


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client
