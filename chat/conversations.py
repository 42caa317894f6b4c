"""Conversations and blocks in the database: plain functions, called by the consumer."""
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.rules import rules_accepted
from chat.models import Block, Conversation
from moderation.bans import active_mute


def exclusions_for(user_id: int) -> list[int]:
    """Users `user_id` must never be matched with: blocks either way."""
    pairs = Block.objects.filter(Q(blocker_id=user_id) | Q(blocked_id=user_id)).values_list(
        "blocker_id", "blocked_id")
    return sorted({uid for pair in pairs for uid in pair if uid != user_id})


def last_partner(user_id: int) -> tuple[int, int] | None:
    """The partner just left and until when (epoch ms) the two are not paired again: for
    `LAST_PARTNER_SECONDS` after their conversation ended (after now, if it has not)."""
    last = (Conversation.objects.filter(Q(user_a_id=user_id) | Q(user_b_id=user_id))
            .order_by("-started_at").values_list("user_a_id", "user_b_id", "ended_at").first())
    if not last or settings.LAST_PARTNER_SECONDS <= 0:
        return None
    partner = next((uid for uid in last[:2] if uid and uid != user_id), None)
    if partner is None:
        return None
    ended = last[2] or timezone.now()
    return partner, int(ended.timestamp() * 1000) + settings.LAST_PARTNER_SECONDS * 1000


def keeps_history(user_id: int) -> bool:
    return bool(get_user_model().objects.filter(pk=user_id, keeps_history=True).exists())


@dataclass
class SearchProfile:
    """What a `find` needs from the database, read in one trip to the database thread."""

    rules_accepted: bool
    excluded: list[int]
    last_partner: tuple[int, int] | None
    keeps_history: bool
    muted_until: datetime | None


def search_profile(user_id: int) -> SearchProfile:
    # Preferences and mutes may have changed since the socket opened.
    return SearchProfile(rules_accepted(user_id), exclusions_for(user_id), last_partner(user_id),
                         keeps_history(user_id), active_mute(user_id))


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
            return Block.objects.create(blocker_id=blocker_id, blocked_id=blocked_id,
                                        conversation_id=conversation_id)
    except IntegrityError:
        return Block.objects.get(blocker_id=blocker_id, blocked_id=blocked_id)
