"""Invitations to talk now (PROTOCOL.md section 5, `invite` / `accept` / `decline` /
`cancel_invite`): the rules on the database side.

Owns who may invite whom and the life of one invitation: pending, then exactly one of
accepted, declined, cancelled or expired. Every change of state is one conditional UPDATE
(`state = pending`), so when an answer, a withdrawal and the expiry race on two server
processes, exactly one of them wins and only the winner tells anyone. Whether the contact is
connected or busy is live state, checked by `chat.live.contacts`.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from chat.contacts import services
from chat.contacts.models import Contact, Invitation

State = Invitation.State


@dataclass(frozen=True)
class Person:
    """One side of a direct conversation, as the live conversation needs it."""

    user_id: int
    handle: str
    keeps_history: bool


def as_uuid(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except (ValueError, TypeError, AttributeError):
        return None


def contact_for(user_id: int, contact_id: str) -> Contact:
    """The user's contact by id, else `not_a_contact` (also for someone either side blocked)."""
    contact = services.contact_of(user_id, contact_id)
    if contact is None or services.blocked_either_way(user_id, contact.partner_id(user_id)):
        raise services.ContactError("not_a_contact", "that is not one of your contacts")
    return contact


def create(inviter_id: int, contact: Contact, mode: str) -> tuple[Invitation, list[Invitation]]:
    """A new pending invitation to `contact` (checked with `contact_for`), and the inviter's
    earlier pending ones it replaces (one invitation at a time: the contacts of those learn
    they were withdrawn)."""
    replaced = list(Invitation.objects.filter(inviter_id=inviter_id, state=State.PENDING))
    Invitation.objects.filter(pk__in=[i.pk for i in replaced],
                              state=State.PENDING).update(state=State.CANCELLED)
    invitation = Invitation.objects.create(
        contact=contact, inviter_id=inviter_id, invitee_id=contact.partner_id(inviter_id),
        mode=mode,
        expires_at=timezone.now() + timedelta(seconds=settings.INVITE_TIMEOUT_SECONDS))
    return invitation, replaced


def _settle(invitation_id: str, new_state: str, **who: int) -> Invitation:
    """Move a pending invitation to `new_state`, if it is still pending and unexpired."""
    key = as_uuid(invitation_id)
    gone = services.ContactError("invitation_gone",
                                 "that invitation was answered, withdrawn or expired")
    if key is None:
        raise gone
    pending = Invitation.objects.filter(pk=key, state=State.PENDING, **who)
    if new_state != State.EXPIRED:
        pending = pending.filter(expires_at__gt=timezone.now())
    if not pending.update(state=new_state):
        raise gone
    return Invitation.objects.select_related("inviter", "invitee").get(pk=key)


def accept(invitee_id: int, invitation_id: str) -> Invitation:
    return _settle(invitation_id, State.ACCEPTED, invitee_id=invitee_id)


def decline(invitee_id: int, invitation_id: str) -> Invitation:
    return _settle(invitation_id, State.DECLINED, invitee_id=invitee_id)


def withdraw(inviter_id: int, invitation_id: str) -> Invitation:
    return _settle(invitation_id, State.CANCELLED, inviter_id=inviter_id)


def give_up(invitation_id: str, state: str = State.CANCELLED) -> Invitation | None:
    """The invitation cannot go on (the inviter went away or became busy) or it expired;
    None when something else settled it first."""
    try:
        return _settle(invitation_id, state)
    except services.ContactError:
        return None


def expire(invitation_id: str) -> Invitation | None:
    """Called by both sides' timers; only the first call after the deadline wins."""
    key = as_uuid(invitation_id)
    if key is None or not Invitation.objects.filter(
            pk=key, state=State.PENDING, expires_at__lte=timezone.now()).exists():
        return None
    return give_up(invitation_id, State.EXPIRED)


def pending_for(invitee_id: int) -> list[Invitation]:
    """Unanswered invitations to this user, offered again when its socket (re)connects."""
    return list(Invitation.objects.select_related("inviter").filter(
        invitee_id=invitee_id, state=State.PENDING, expires_at__gt=timezone.now())
        .order_by("created_at"))


def person(user_id: int) -> Person:
    user = get_user_model().objects.get(pk=user_id)
    return Person(user.pk, user.username, user.keeps_history)


def invited_frame(invitation: Invitation, inviter_handle: str) -> dict[str, str]:
    return {"type": "invited", "invitation": str(invitation.pk),
            "contact": str(invitation.contact_id), "handle": inviter_handle,
            "mode": invitation.mode}


def seconds_left(invitation: Invitation) -> float:
    return max(0.0, (invitation.expires_at - timezone.now()).total_seconds())
