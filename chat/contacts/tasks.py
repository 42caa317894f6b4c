"""Celery tasks of keeping in touch: web push notices and letter retention. Small,
idempotent, given ids; queued after commit."""
from __future__ import annotations

from typing import Any

from celery import shared_task
from django.db import transaction

from chat.contacts import push, retention
from chat.store import get_store


def _push_if_away(found: tuple[int, dict[str, str]] | None) -> int:
    """Push only while the person has no tab open: with one, the socket told them already."""
    if found is None:
        return 0
    user_id, notice = found
    if get_store().socket_now(user_id):
        return 0
    return push.send(user_id, notice)


@shared_task(acks_late=True)
def push_letter(letter_id: str) -> int:
    return _push_if_away(push.letter_notice(letter_id))


@shared_task(acks_late=True)
def push_invitation(invitation_id: str) -> int:
    return _push_if_away(push.invitation_notice(invitation_id))


def queue_push_letter(letter_id: Any) -> None:
    """After commit, a push notice for the letter (when pushing is configured)."""
    if push.enabled():
        transaction.on_commit(lambda: push_letter.delay(str(letter_id)), robust=True)


def queue_push_invitation(invitation_id: Any) -> None:
    """After commit, a push notice for the invitation (when pushing is configured)."""
    if push.enabled():
        transaction.on_commit(lambda: push_invitation.delay(str(invitation_id)), robust=True)


@shared_task
def purge_old_letters() -> int:
    return retention.purge_old_letters()


@shared_task
def purge_stale_requests() -> int:
    """One-way "keep in touch" asks whose window has passed (beat); running it twice deletes
    nothing twice."""
    return retention.purge_stale_requests()
