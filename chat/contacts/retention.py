"""How long letters are kept: until the contact ends (they go with it) or
LETTER_RETENTION_DAYS pass, whichever comes first."""
from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from chat.contacts.models import Letter


def purge_old_letters(now: datetime | None = None) -> int:
    """Delete letters older than LETTER_RETENTION_DAYS; returns how many."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.LETTER_RETENTION_DAYS)
    deleted, _ = Letter.objects.filter(created_at__lt=cutoff).delete()
    return deleted
