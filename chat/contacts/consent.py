"""Consent to keep in touch (PROTOCOL.md section 5, "Consent, on the socket").

Owns the rule of when a `keep_in_touch` counts and what it leads to. A user may ask about
their latest conversation while it lasts, or after it until either of the two is matched
again and at most `KEEP_IN_TOUCH_WINDOW_SECONDS` after it ended. Each side's asking is one
`ContactRequest` row; the second row makes the two contacts. The database decides, with the
conversation's row locked, so two asks on two server processes at the same moment still make
exactly one contact. A block or a report by either side in that conversation (or any block
between the two) cancels the requests, silently: the asker is never told that nothing came of
it, exactly as when the other side simply does not answer.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from chat.contacts import services
from chat.contacts.models import Contact, ContactRequest
from chat.models import Conversation
from moderation.models import Report


@dataclass(frozen=True)
class Asked:
    """What one `keep_in_touch` led to."""

    other_id: int
    # Offer `keep_in_touch_offered` with this handle to the other side (None: say nothing).
    offer_handle: str | None = None
    # Both asked: the contact they now share.
    contact: Contact | None = None


def latest_conversation(user_id: int) -> Conversation | None:
    return (Conversation.objects.filter(Q(user_a_id=user_id) | Q(user_b_id=user_id))
            .order_by("-started_at").first())


def _other_of(conversation: Conversation, user_id: int) -> int | None:
    if conversation.user_a_id == user_id:
        return conversation.user_b_id
    if conversation.user_b_id == user_id:
        return conversation.user_a_id
    return None


def _window_open(conversation: Conversation, user_ids: tuple[int, int]) -> bool:
    """Live, or ended less than the window ago and neither side matched since."""
    if conversation.ended_at is not None:
        window = timedelta(seconds=settings.KEEP_IN_TOUCH_WINDOW_SECONDS)
        if timezone.now() - conversation.ended_at > window:
            return False
    later = Conversation.objects.filter(
        Q(user_a_id__in=user_ids) | Q(user_b_id__in=user_ids),
        started_at__gt=conversation.started_at)
    return not later.exists()


def _spoiled(conversation: Conversation, user_ids: tuple[int, int]) -> bool:
    """A report in this conversation, or a block between the two, by either side."""
    return (Report.objects.filter(conversation_id=conversation.id,
                                  reporter_id__in=user_ids).exists()
            or services.blocked_either_way(*user_ids))


def ask(user_id: int) -> Asked:
    """`user_id` presses "Keep in touch" about their latest conversation."""
    user = get_user_model().objects.get(pk=user_id)
    if user.is_guest:
        raise services.ContactError("account_required",
                           "only full accounts keep in touch; claim your account first")
    with transaction.atomic():
        latest = latest_conversation(user_id)
        other_id = _other_of(latest, user_id) if latest else None
        if latest is None or other_id is None:
            raise services.ContactError("not_in_conversation",
                                        "there is no current or last partner")
        # Both asks of one conversation take turns here, on any process.
        conversation = Conversation.objects.select_for_update().get(pk=latest.pk)
        pair = (user_id, other_id)
        if not _window_open(conversation, pair):
            raise services.ContactError("not_in_conversation",
                               "too late to keep in touch with that partner")
        if _spoiled(conversation, pair):
            ContactRequest.objects.filter(conversation=conversation.id).delete()
            return Asked(other_id)
        existing = services.contact_between(user_id, other_id)
        if existing:
            return Asked(other_id, contact=existing)
        ContactRequest.objects.get_or_create(conversation=conversation.id, asker_id=user_id,
                                             defaults={"other_id": other_id})
        if ContactRequest.objects.filter(conversation=conversation.id,
                                         asker_id=other_id).exists():
            ContactRequest.objects.filter(conversation=conversation.id).delete()
            try:
                return Asked(other_id, contact=services.connect(user_id, other_id))
            except services.ContactError:
                return Asked(other_id)  # an account closed or a block meanwhile: nothing
    return Asked(other_id, offer_handle=user.username)


def pending_offers(user_id: int) -> list[str]:
    """Handles of those who asked this user and still wait for an answer: offered again when
    the user's socket (re)connects, e.g. after a guest claimed its account."""
    latest = latest_conversation(user_id)
    other_id = _other_of(latest, user_id) if latest else None
    if latest is None or other_id is None:
        return []
    requests = ContactRequest.objects.filter(conversation=latest.id)
    askers = set(requests.values_list("asker_id", flat=True))
    pair = (user_id, other_id)
    if (other_id not in askers or user_id in askers or not _window_open(latest, pair)
            or _spoiled(latest, pair) or services.contact_between(user_id, other_id)):
        return []
    return list(get_user_model().objects.filter(pk=other_id).values_list("username", flat=True))


def cancel(conversation_id: str) -> None:
    """A block or a report in that conversation: pending requests are gone."""
    ContactRequest.objects.filter(conversation=conversation_id).delete()


def forget_asks_of(user_id: int) -> int:
    """A ban: the user's unanswered asks, and those to the user, are gone (answering one
    later would make a contact with someone banned)."""
    deleted, _ = ContactRequest.objects.filter(Q(asker_id=user_id) | Q(other_id=user_id)).delete()
    return deleted
