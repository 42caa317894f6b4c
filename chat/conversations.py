"""Conversations and blocks in the database: plain functions, called by the consumer."""
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from chat.models import Block, Conversation


def exclusions_for(user_id: int) -> list[int]:
    """Users `user_id` must not be matched with now: blocks either way, the partner just left."""
    excluded = set(Block.objects.filter(blocker_id=user_id).values_list("blocked_id", flat=True))
    excluded |= set(Block.objects.filter(blocked_id=user_id).values_list("blocker_id", flat=True))
    last = (Conversation.objects.filter(Q(user_a_id=user_id) | Q(user_b_id=user_id))
            .order_by("-started_at").values_list("user_a_id", "user_b_id").first())
    if last:
        excluded.update(uid for uid in last if uid and uid != user_id)
    return sorted(excluded)


def keeps_history(user_id: int) -> bool:
    return bool(get_user_model().objects.filter(pk=user_id, keeps_history=True).exists())


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
