"""Conversations and blocks in the database, and who may meet again: plain functions, called
by the live socket (chat.live) and the contacts app.

A `find` reads nothing here: what it needs of the user (`SearchProfile`) is read once when the
socket connects and kept up to date by the socket from the events that change it (a block is
told to the blocker's socket from `block_user`), and the conversation's row is written just
after `matched` is sent (`record_conversations`, many pairings in one statement)."""
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from chat.models import Block, Conversation
from chat.notify import notify_user_sync

# Told to the blocker's live socket when a block is made (by the socket or on a page).
BLOCK_EVENT = "chat.block_made"


def exclusions_for(user_id: int) -> list[int]:
    """Users `user_id` must never be matched with: blocks either way."""
    pairs = Block.objects.filter(Q(blocker_id=user_id) | Q(blocked_id=user_id)).values_list(
        "blocker_id", "blocked_id")
    return sorted({uid for pair in pairs for uid in pair if uid != user_id})


def latest_partner(user_id: int) -> tuple[int, int] | None:
    """The partner of the user's latest conversation and when it ended (epoch ms; now, if it
    has not)."""
    last = (Conversation.objects.filter(Q(user_a_id=user_id) | Q(user_b_id=user_id))
            .order_by("-started_at").values_list("user_a_id", "user_b_id", "ended_at").first())
    partner = next((uid for uid in last[:2] if uid and uid != user_id), None) if last else None
    if partner is None:
        return None
    return partner, epoch_ms(last[2] or timezone.now())


def not_again_until(last: tuple[int, int] | None) -> tuple[int, int] | None:
    """The partner just left (partner id, epoch ms it ended) and until when the two are not
    paired again: `LAST_PARTNER_SECONDS` after the end."""
    if not last or settings.LAST_PARTNER_SECONDS <= 0:
        return None
    partner, ended_ms = last
    return partner, ended_ms + settings.LAST_PARTNER_SECONDS * 1000


def last_partner(user_id: int) -> tuple[int, int] | None:
    return not_again_until(latest_partner(user_id))


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@dataclass
class SearchProfile:
    """What a `find` needs of the user beyond its frame. Read once, when the socket connects
    (in one trip to a database thread); the socket then keeps it up to date: a block it is told
    of (`BLOCK_EVENT`), the history preference (`chat.preferences`), the conversations it
    leaves. Rules accepted later are read again at the next `find` (a no only)."""

    rules_accepted: bool
    keeps_history: bool
    # Users never to be paired with: blocks either way.
    excluded: set[int]
    # The partner of the latest conversation and when it ended (epoch ms).
    last_partner: tuple[int, int] | None


def search_profile(user_id: int) -> SearchProfile:
    accepted, keeps = (get_user_model().objects.filter(pk=user_id)
                       .values_list("rules_accepted_at", "keeps_history").first()
                       or (None, False))
    return SearchProfile(accepted is not None, keeps, set(exclusions_for(user_id)),
                         latest_partner(user_id))


@dataclass
class NewConversation:
    """A pairing's row, as `record_conversations` writes it."""

    id: str
    mode: str
    initiator_id: int
    other_id: int
    common_interests: list[str]


def record_conversations(new: Sequence[NewConversation]) -> None:
    """Write the rows of pairings made, in one statement. Both sides of a pairing may ask (each
    process writes what its sockets took part in): a row already there is left as it is."""
    Conversation.objects.bulk_create(
        [Conversation(id=c.id, mode=c.mode, user_a_id=c.initiator_id, user_b_id=c.other_id,
                      common_interests=c.common_interests) for c in new],
        ignore_conflicts=True)


def start_conversation(conversation_id: str, mode: str, initiator_id: int, other_id: int,
                       common_interests: list[str]) -> Conversation:
    return Conversation.objects.create(id=conversation_id, mode=mode, user_a_id=initiator_id,
                                       user_b_id=other_id, common_interests=common_interests)


def end_conversation(conversation_id: str, reason: str, ended_by_id: int | None) -> bool:
    """Mark the conversation over; False when it had already ended (the other side was first)."""
    return bool(Conversation.objects.filter(id=conversation_id, ended_at__isnull=True).update(
        ended_at=timezone.now(), end_reason=reason, ended_by_id=ended_by_id))


def block_user(blocker_id: int, blocked_id: int, conversation_id: str | None) -> Block:
    try:
        with transaction.atomic():
            block = Block.objects.create(blocker_id=blocker_id, blocked_id=blocked_id,
                                         conversation_id=conversation_id)
            # The blocker's live socket, wherever the block was made, leaves the blocked user
            # out of its next `find` (its search profile was read when it connected).
            transaction.on_commit(lambda: notify_user_sync(
                blocker_id, {"type": BLOCK_EVENT, "user": blocked_id}), robust=True)
            return block
    except IntegrityError:
        return Block.objects.get(blocker_id=blocker_id, blocked_id=blocked_id)
