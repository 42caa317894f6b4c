"""Idle guest accounts are deleted after GUEST_RETENTION_DAYS without being seen."""
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, QuerySet
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from accounts.deletion import delete_account
from accounts.models import User
from chatsite.plumbing.live import has_live_socket


def idle_guests(now: datetime | None = None) -> QuerySet[User]:
    """Guests whose last sign of life (socket connect, login, or creation) is too old."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.GUEST_RETENTION_DAYS)
    return (User.objects.filter(is_guest=True, is_staff=False)
            .annotate(last_active=Greatest(Coalesce("last_seen", "date_joined"),
                                           Coalesce("last_login", "date_joined")))
            .filter(last_active__lt=cutoff)
            .order_by(F("last_active").asc()))


def purge_idle_guests(now: datetime | None = None) -> int:
    """Delete idle guests, each as if it had deleted itself; returns how many went.

    A guest still connected is not idle, however long ago it connected."""
    purged = 0
    for user_id in list(idle_guests(now).values_list("pk", flat=True)):
        if not has_live_socket(user_id) and delete_account(user_id):
            purged += 1
    return purged
