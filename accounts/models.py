from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A pseudonymous account: `username` is the public handle, and no real name is kept."""

    first_name = None  # type: ignore[assignment]
    last_name = None  # type: ignore[assignment]

    is_guest = models.BooleanField(default=False)
    keeps_history = models.BooleanField(default=False)
    adult_confirmed_at = models.DateTimeField(null=True, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True)

    REQUIRED_FIELDS: list[str] = []

    @property
    def handle(self) -> str:
        return self.username
