"""The community rules: whether a person accepted them, and recording that they did.

Nobody chats before accepting: a guest's one click on "I am 18 or older and accept the
community rules" (the guest button) records it, and any other account accepts once on the chat
page. The live socket refuses `find` until then (error code `rules_required`).
"""
from __future__ import annotations

from django.utils import timezone

from accounts.models import User


def rules_accepted(user_id: int) -> bool:
    return User.objects.filter(pk=user_id, rules_accepted_at__isnull=False).exists()


def accept_rules(user: User) -> None:
    """Record, with its time, that `user` is 18 or older and accepts the rules; idempotent."""
    now = timezone.now()
    fields = []
    if user.rules_accepted_at is None:
        user.rules_accepted_at = now
        fields.append("rules_accepted_at")
    if user.adult_confirmed_at is None:
        user.adult_confirmed_at = now
        fields.append("adult_confirmed_at")
    if fields:
        user.save(update_fields=fields)
