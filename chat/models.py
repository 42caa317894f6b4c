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


class KeptConversation(models.Model):
    """One user's own copy of a conversation, kept because that user keeps history.

    Each side that keeps history has its own copy; deleting one never touches the other's.
    """

    class How(models.TextChoices):
        # Said from the owner's side, so that the list says who ended it.
        LEFT = "left", "You left"
        PARTNER_LEFT = "partner_left", "Stranger left"
        BLOCKED = "blocked", "You blocked"
        REPORTED = "reported", "You reported"
        DISCONNECTED = "disconnected", "Connection lost"
        BANNED = "banned", "Ended by a moderator"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                              related_name="kept_conversations")
    # The live conversation's id as the user saw it in `matched`; the public id in URLs.
    conversation = models.UUIDField()
    mode = models.CharField(max_length=5, choices=Conversation.Mode.choices,
                            default=Conversation.Mode.TEXT)
    partner_handle = models.CharField(max_length=150, blank=True)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_how = models.CharField(max_length=12, choices=How.choices, blank=True)
    line_count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "conversation"],
                                    name="one_kept_copy_per_owner"),
        ]
        indexes = [models.Index(fields=["owner", "-started_at"]),
                   models.Index(fields=["started_at"])]

    def __str__(self) -> str:
        return f"kept copy of {self.conversation} for {self.owner_id}"


class KeptLine(models.Model):
    """One line of a kept conversation; the text is a Fernet token (plumbing.crypto)."""

    kept = models.ForeignKey(KeptConversation, on_delete=models.CASCADE, related_name="lines")
    message_id = models.CharField(max_length=80)
    from_me = models.BooleanField()
    text_encrypted = models.BinaryField()
    ts = models.DateTimeField()
    filtered = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kept", "message_id"], name="one_kept_line_per_id"),
        ]

    def __str__(self) -> str:
        return f"line {self.message_id}"


class HistoryExport(models.Model):
    """A zip of a user's whole record (JSON, HTML, CSV), built by a Celery task.

    The zip is stored encrypted like the lines it holds, and is purged once it expires.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        READY = "ready"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                              related_name="history_exports")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    progress = models.PositiveSmallIntegerField(default=0)
    zip_encrypted = models.BinaryField(null=True, blank=True)
    zip_size = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["expires_at"])]

    def __str__(self) -> str:
        return f"export {self.id} ({self.status})"
