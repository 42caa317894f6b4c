"""Guest accounts: one click, a generated handle, no password until the guest claims it."""
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.handles import generate_handle
from accounts.models import User

HANDLE_ATTEMPTS = 5


def create_guest() -> User:
    """A new guest with a free handle. Two requests that draw the same handle at once are told
    apart by the database's case-insensitive unique constraint; the loser draws again."""
    for _ in range(HANDLE_ATTEMPTS):
        user = User(username=generate_handle(), is_guest=True, last_seen=timezone.now())
        user.set_unusable_password()
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError:
            continue
        return user
    raise RuntimeError("could not find a free handle")


def claim_guest(user: User, password: str) -> User:
    """The guest keeps its handle and becomes a full account."""
    user.set_password(password)
    user.is_guest = False
    user.adult_confirmed_at = user.adult_confirmed_at or timezone.now()
    user.save(update_fields=["password", "is_guest", "adult_confirmed_at"])
    return user
