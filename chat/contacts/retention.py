"""How long letters are kept: until the contact ends (they go with it) or
LETTER_RETENTION_DAYS pass, whichever comes first; and one-way asks to keep in touch, until
no window could still answer them."""
from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from chat.contacts.models import ContactRequest, Letter


def purge_old_letters(now: datetime | None = None) -> int:
    """Delete letters older than LETTER_RETENTION_DAYS; returns how many."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.LETTER_RETENTION_DAYS)
    deleted, _ = Letter.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def purge_stale_requests() -> int:
    """Requests older than any window; idempotent, for the periodic clean-up."""
    window = timedelta(seconds=settings.KEEP_IN_TOUCH_WINDOW_SECONDS)
    cutoff = timezone.now() - window - timedelta(days=1)
    deleted, _ = ContactRequest.objects.filter(created_at__lt=cutoff).delete()
    return deleted
