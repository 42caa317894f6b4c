"""Contacts, letters, keep-in-touch requests, invitations and push subscriptions (section 5)."""
from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from chat.models import Conversation


class Contact(models.Model):
    """Two people who both asked to keep in touch. One row, one id, for both sides.

    `user_low` is always the lower user id, so a pair has exactly one row."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user_low = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                 related_name="+")
    user_high = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                  related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user_low", "user_high"], name="one_contact_per_pair"),
            models.CheckConstraint(condition=Q(user_low__lt=F("user_high")),
                                   name="contact_low_below_high"),
        ]
        indexes = [models.Index(fields=["user_high"])]

    def __str__(self) -> str:
        return f"contact {self.id}"

    def partner_id(self, user_id: int) -> int:
        return self.user_high_id if self.user_low_id == user_id else self.user_low_id


class Letter(models.Model):
    """A text written to a contact who may be away; the body is a Fernet token (plumbing.crypto)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="letters")
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                               related_name="+")
    body = models.BinaryField()
    filtered = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["contact", "created_at"]),
                   models.Index(fields=["created_at"])]

    def __str__(self) -> str:
        return f"letter {self.id}"


class ContactRequest(models.Model):
    """One side's "keep in touch" in one conversation; both sides asking makes a Contact."""

    conversation = models.UUIDField()
    asker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                              related_name="+")
    other = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                              related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "asker"],
                                    name="one_request_per_asker"),
        ]
        indexes = [models.Index(fields=["created_at"])]

    def __str__(self) -> str:
        return f"{self.asker_id} asks {self.other_id} in {self.conversation}"


class Invitation(models.Model):
    """A contact asked to talk now (section 5, `invite`)."""

    # An accepted invitation is a conversation: the same modes.
    Mode = Conversation.Mode

    class State(models.TextChoices):
        PENDING = "pending"
        ACCEPTED = "accepted"
        DECLINED = "declined"
        CANCELLED = "cancelled"
        EXPIRED = "expired"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="invitations")
    inviter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="+")
    invitee = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="+")
    mode = models.CharField(max_length=5, choices=Mode.choices, default=Mode.TEXT)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    state = models.CharField(max_length=9, choices=State.choices, default=State.PENDING)

    class Meta:
        indexes = [models.Index(fields=["state", "expires_at"]),
                   models.Index(fields=["inviter", "-created_at"])]

    def __str__(self) -> str:
        return f"invitation {self.id} ({self.state})"


class PushSubscription(models.Model):
    """A browser's Web Push endpoint for one user (only used with VAPID keys set)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="push_subscriptions")
    endpoint = models.URLField(max_length=1000)
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "endpoint"], name="one_push_per_endpoint"),
        ]

    def __str__(self) -> str:
        return f"push subscription {self.id}"
