from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower

from accounts.handles import HandleValidator


class User(AbstractUser):
    """A pseudonymous account: `username` is the public handle, and no real name is kept."""

    first_name = None  # type: ignore[assignment]
    last_name = None  # type: ignore[assignment]

    username = models.CharField(
        "handle",
        max_length=150,
        unique=True,
        validators=[HandleValidator()],
        help_text="The name strangers see. Letters A-Z, digits, '_' and '-'.",
        error_messages={"unique": "That handle is taken."},
    )
    is_guest = models.BooleanField(default=False)
    keeps_history = models.BooleanField(default=False)
    adult_confirmed_at = models.DateTimeField(null=True, blank=True)
    # When the person accepted the community rules (a guest does so before its first chat).
    rules_accepted_at = models.DateTimeField(null=True, blank=True)
    # Contacts see this user come and go only while this is on (protocol section 5).
    shares_presence = models.BooleanField(default=True)
    # Updated on login and when a chat socket connects; idle guests are purged by it.
    last_seen = models.DateTimeField(null=True, blank=True)

    REQUIRED_FIELDS: tuple[str, ...] = ()

    class Meta:
        constraints = [
            # QuietOtter42 and quietotter42 would be the same person to anyone reading.
            models.UniqueConstraint(Lower("username"), name="handle_unique_ignoring_case",
                                    violation_error_message="That handle is taken."),
        ]
        indexes = [models.Index(fields=["is_guest", "last_seen"])]

    @property
    def handle(self) -> str:
        return self.username
