import uuid

from django.conf import settings
from django.db import models


class Conversation(models.Model):
    """One meeting of two users. Line text is not stored here: history is opt-in."""

    class Mode(models.TextChoices):
        TEXT = "text"
        VOICE = "voice"
        VIDEO = "video"

    class EndReason(models.TextChoices):
        LEFT = "left"
        DISCONNECTED = "disconnected"
        BLOCKED = "blocked"
        BANNED = "banned"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    mode = models.CharField(max_length=5, choices=Mode.choices, default=Mode.TEXT)
    user_a = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                               related_name="+")
    user_b = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                               related_name="+")
    common_interests = models.JSONField(default=list, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=12, choices=EndReason.choices, blank=True)
    ended_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                 blank=True, related_name="+")

    class Meta:
        indexes = [
            models.Index(fields=["user_a", "-started_at"]),
            models.Index(fields=["user_b", "-started_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.mode} conversation {self.id}"

    def partner_id(self, user_id: int) -> int | None:
        return self.user_b_id if self.user_a_id == user_id else self.user_a_id


class Block(models.Model):
    """`blocker` never meets `blocked` again; the rule applies both ways."""

    blocker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="blocks_made")
    blocked = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="blocks_received")
    conversation = models.ForeignKey(Conversation, on_delete=models.SET_NULL, null=True,
                                     blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["blocker", "blocked"], name="one_block_per_pair"),
        ]

    def __str__(self) -> str:
        return f"{self.blocker_id} blocks {self.blocked_id}"
