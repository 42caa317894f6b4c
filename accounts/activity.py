"""When an account was last seen: kept on login and on chat socket connect, and read by the
idle-guest purge (accounts.retention)."""
from typing import Any

from django.utils import timezone

from accounts.models import User


def mark_seen(user_id: int) -> None:
    User.objects.filter(pk=user_id).update(last_seen=timezone.now())


def mark_seen_on_login(sender: Any, request: Any, user: User, **kwargs: Any) -> None:
    """Receiver of `user_logged_in` (connected in AccountsConfig.ready)."""
    mark_seen(user.pk)
