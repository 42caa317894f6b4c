"""Guest accounts: one click, a generated handle, no password until the guest claims it."""
from django.utils import timezone

from accounts.handles import generate_handle
from accounts.models import User


def create_guest() -> User:
    for _ in range(5):
        handle = generate_handle()
        user, created = User.objects.get_or_create(username=handle, defaults={"is_guest": True})
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
            return user
    raise RuntimeError("could not find a free handle")


def claim_guest(user: User, password: str) -> User:
    """The guest keeps its handle and becomes a full account."""
    user.set_password(password)
    user.is_guest = False
    user.adult_confirmed_at = user.adult_confirmed_at or timezone.now()
    user.save(update_fields=["password", "is_guest", "adult_confirmed_at"])
    return user
