"""Opt-in history: each user's own copy of their conversations, encrypted at rest.

The package `chat.history` owns kept history, the user's record export (`export`), their
pages (`views`, `urls`) and tasks (`tasks`); the models stay in chat/models.py (moving them
to another app would need a migration that renames tables, for no gain in behaviour).

The live socket reports what it delivers (`conversation_seen`, `line_seen`,
`conversation_closed`); those calls only queue the event in memory and return, and a
background task of the event loop writes the queue in batches, so the relay never waits for
the database. What is still queued when a server process dies (at most
HISTORY_WRITE_INTERVAL_MS of lines) is lost, like the live conversation itself.

Only users whose `keeps_history` is on when the batch is written get anything stored.
"""
from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone

from accounts.models import User
from accounts.signals import account_erasing
from chat.models import Conversation, HistoryExport, KeptConversation, KeptLine
from chat.protocol import iso_utc
from chatsite.plumbing import crypto
from chatsite.plumbing.runtime import runtime

log = logging.getLogger(__name__)

ENDINGS = frozenset(KeptConversation.How.values)


def parse_time(value: str | None) -> datetime:
    if not value:
        return timezone.now()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return timezone.now()
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# ---- events queued by the live socket


@dataclass(frozen=True)
class SeenConversation:
    owner_id: int
    conversation_id: str
    mode: str
    partner_handle: str
    started_at: str


@dataclass(frozen=True)
class SeenLine:
    owner_id: int
    conversation_id: str
    message_id: str
    from_me: bool
    text: str
    ts: str
    filtered: bool


@dataclass(frozen=True)
class ClosedConversation:
    owner_id: int
    conversation_id: str
    how: str
    at: datetime


HistoryEvent = SeenConversation | SeenLine | ClosedConversation


class HistoryWriter:
    """The queue of one event loop, written in order, one batch at a time."""

    def __init__(self) -> None:
        self.pending: list[HistoryEvent] = []
        self.wake = asyncio.Event()
        self.write_lock = asyncio.Lock()
        self.task: asyncio.Task | None = None

    def submit(self, event: HistoryEvent, urgent: bool = False) -> None:
        self.pending.append(event)
        if urgent or len(self.pending) >= settings.HISTORY_WRITE_BATCH:
            self.wake.set()
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self.run())

    async def run(self) -> None:
        interval = settings.HISTORY_WRITE_INTERVAL_MS / 1000
        while self.pending:
            try:
                await asyncio.wait_for(self.wake.wait(), timeout=interval)
            except TimeoutError:
                pass
            self.wake.clear()
            await self.write_pending()

    async def write_pending(self) -> None:
        async with self.write_lock:
            batch, self.pending = self.pending, []
            if not batch:
                return
            try:
                await database_sync_to_async(write_events)(batch)
            except Exception:
                # History is a convenience: a failed batch must never disturb the chat.
                log.exception("could not write %d history events", len(batch))

    async def flush(self) -> None:
        await self.write_pending()


def writer() -> HistoryWriter:
    """The running event loop's history writer, held by the process's runtime."""
    return runtime().loop_part("history.writer", HistoryWriter)


async def flush_history() -> None:
    """Write everything queued by this event loop now (tests, and a server shutting down)."""
    await writer().flush()


async def conversation_seen(owner_id: int, conversation_id: str, mode: str,
                            partner_handle: str, started_at_iso: str) -> None:
    writer().submit(SeenConversation(owner_id, conversation_id, mode, partner_handle,
                                     started_at_iso))


async def line_seen(owner_id: int, conversation_id: str, frame: dict) -> None:
    writer().submit(SeenLine(
        owner_id=owner_id, conversation_id=conversation_id, message_id=str(frame.get("id", "")),
        from_me=frame.get("from") == "me", text=str(frame.get("text", "")),
        ts=str(frame.get("ts") or ""), filtered=bool(frame.get("filtered", False))))


async def conversation_closed(owner_id: int, conversation_id: str, how: str) -> None:
    writer().submit(ClosedConversation(owner_id, conversation_id, how, timezone.now()),
                    urgent=True)


# ---- writing a batch


def conversation_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def kept_copy_from_live(owner_id: int, conversation: uuid.UUID,
                        first_seen: datetime) -> KeptConversation:
    """A copy for lines whose `conversation_seen` never came (history turned on mid-way)."""
    live = Conversation.objects.filter(id=conversation).first()
    mode, partner_handle, started_at = Conversation.Mode.TEXT, "", first_seen
    if live:
        mode, started_at = live.mode, live.started_at
        partner_id = live.partner_id(owner_id)
        partner_handle = (User.objects.filter(id=partner_id).values_list("username", flat=True)
                          .first() or "")
    kept, _ = KeptConversation.objects.get_or_create(
        owner_id=owner_id, conversation=conversation,
        defaults={"mode": mode, "partner_handle": partner_handle, "started_at": started_at})
    return kept


def close_copy(owner_id: int, conversation: uuid.UUID, how: str, at: datetime) -> None:
    """Record how a kept conversation ended; only touches a copy that exists.

    A report is what the user remembers a conversation by, so `reported` wins over another
    ending, also one recorded before it; otherwise the first ending counts.
    """
    copies = KeptConversation.objects.filter(owner_id=owner_id, conversation=conversation)
    copies.filter(ended_at__isnull=True).update(ended_at=at)
    if how == KeptConversation.How.REPORTED:
        copies.update(ended_how=how)
    elif how in ENDINGS:
        copies.filter(ended_how="").update(ended_how=how)


def write_events(events: list[HistoryEvent]) -> None:
    """Store a batch in the order the events happened; repeating a batch changes nothing."""
    keepers = set(User.objects.filter(id__in={event.owner_id for event in events},
                                      keeps_history=True).values_list("id", flat=True))
    kept_ids: dict[tuple[int, uuid.UUID], uuid.UUID] = {}
    new_lines: dict[uuid.UUID, list[KeptLine]] = {}
    with transaction.atomic():
        for event in events:
            conversation = conversation_uuid(event.conversation_id)
            if conversation is None:
                log.warning("history event for a bad conversation id %r", event.conversation_id)
                continue
            key = (event.owner_id, conversation)
            if isinstance(event, ClosedConversation):
                close_copy(event.owner_id, conversation, event.how, event.at)
                continue
            if event.owner_id not in keepers:
                continue
            if isinstance(event, SeenConversation):
                mode = event.mode if event.mode in Conversation.Mode.values else "text"
                kept, _ = KeptConversation.objects.update_or_create(
                    owner_id=event.owner_id, conversation=conversation,
                    defaults={"mode": mode, "partner_handle": event.partner_handle[:150],
                              "started_at": parse_time(event.started_at)})
                kept_ids[key] = kept.pk
                continue
            if key not in kept_ids:
                existing = KeptConversation.objects.filter(
                    owner_id=event.owner_id, conversation=conversation,
                ).values_list("pk", flat=True).first()
                kept_ids[key] = existing or kept_copy_from_live(
                    event.owner_id, conversation, parse_time(event.ts)).pk
            new_lines.setdefault(kept_ids[key], []).append(KeptLine(
                kept_id=kept_ids[key], message_id=event.message_id[:80], from_me=event.from_me,
                text_encrypted=crypto.encrypt_text(event.text), ts=parse_time(event.ts),
                filtered=event.filtered))
        for kept_id, lines in new_lines.items():
            KeptLine.objects.bulk_create(lines, ignore_conflicts=True)
            KeptConversation.objects.filter(pk=kept_id).update(
                line_count=KeptLine.objects.filter(kept_id=kept_id).count())


# ---- reading, searching, deleting


def kept_conversations(user_id: int):  # noqa: ANN201 - a QuerySet of KeptConversation
    return KeptConversation.objects.filter(owner_id=user_id).order_by("-started_at", "-pk")


def kept_copy(user_id: int, conversation: uuid.UUID) -> KeptConversation | None:
    """The user's own copy, or None (also for another user's id)."""
    return KeptConversation.objects.filter(owner_id=user_id, conversation=conversation).first()


def decrypted_lines(kept_id: uuid.UUID) -> Iterator[dict[str, Any]]:
    """The lines of one kept conversation in the order they were delivered."""
    rows = (KeptLine.objects.filter(kept_id=kept_id).order_by("pk")
            .values_list("message_id", "from_me", "text_encrypted", "ts", "filtered")
            .iterator(chunk_size=2000))
    for message_id, from_me, token, ts, filtered in rows:
        yield {"id": message_id, "from": "me" if from_me else "partner",
               "text": crypto.decrypt_text(token), "ts": iso_utc(ts), "filtered": filtered}


def search_kept(user_id: int, query: str) -> list[uuid.UUID]:
    """Ids of the user's kept conversations whose partner handle or any line contains `query`.

    Text is encrypted, so the search decrypts the user's own lines on the server.
    """
    needle = query.strip().casefold()
    if not needle:
        return []
    found = set(KeptConversation.objects.filter(
        owner_id=user_id, partner_handle__icontains=needle).values_list("pk", flat=True))
    rows = (KeptLine.objects.filter(kept__owner_id=user_id).exclude(kept_id__in=found)
            .values_list("kept_id", "text_encrypted").iterator(chunk_size=2000))
    for kept_id, token in rows:
        if kept_id not in found and needle in crypto.decrypt_text(token).casefold():
            found.add(kept_id)
    return list(found)


def delete_kept(user_id: int, conversation: uuid.UUID) -> bool:
    deleted, _ = KeptConversation.objects.filter(owner_id=user_id,
                                                 conversation=conversation).delete()
    return bool(deleted)


def delete_all_kept(user_id: int) -> int:
    kept = KeptConversation.objects.filter(owner_id=user_id)
    count = kept.count()
    kept.delete()
    return count


@receiver(account_erasing, dispatch_uid="chat.history.erase")
def erase_on_account_erasing(sender: Any, user: User, **_: Any) -> None:
    erase_user_history(user.pk)


def erase_user_history(user_id: int) -> None:
    """Account deletion: every kept conversation and every export of the user."""
    with transaction.atomic():
        KeptConversation.objects.filter(owner_id=user_id).delete()
        HistoryExport.objects.filter(owner_id=user_id).delete()


# ---- retention and key rotation


def purge_old_history(now: datetime | None = None) -> int:
    """Delete kept conversations that started more than HISTORY_RETENTION_DAYS ago."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.HISTORY_RETENTION_DAYS)
    old = KeptConversation.objects.filter(started_at__lt=cutoff)
    count = old.count()
    old.delete()
    return count


def purge_expired_exports(now: datetime | None = None) -> int:
    expired = HistoryExport.objects.filter(expires_at__lt=now or timezone.now())
    count = expired.count()
    expired.delete()
    return count


def rotate_history_keys(batch_size: int = 1000) -> int:
    """Re-encrypt every stored line and export with the newest key; returns how many."""
    rotated = 0
    last_pk = 0
    while True:
        lines = list(KeptLine.objects.filter(pk__gt=last_pk).order_by("pk")
                     .only("pk", "text_encrypted")[:batch_size])
        if not lines:
            break
        for line in lines:
            line.text_encrypted = crypto.rotate_token(line.text_encrypted)
        KeptLine.objects.bulk_update(lines, ["text_encrypted"])
        rotated += len(lines)
        last_pk = lines[-1].pk
    for export in HistoryExport.objects.filter(zip_encrypted__isnull=False).only(
            "pk", "zip_encrypted").iterator(chunk_size=10):
        HistoryExport.objects.filter(pk=export.pk).update(
            zip_encrypted=crypto.rotate_token(export.zip_encrypted))
        rotated += 1
    return rotated
