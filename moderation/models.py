"""Moderation records: reports with their evidence, the append-only decision log, bans,
mutes, appeals and the classifier's scores."""
import json
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import models

# jsonb cannot hold the escape \u0000, yet a chat line can hold NUL. Evidence strings are
# stored with a reversible escape: ESCAPE doubles itself and NUL becomes ESCAPE + "0".
EVIDENCE_ESCAPE = "\ue000"
_ESCAPED = re.compile(EVIDENCE_ESCAPE + "([" + EVIDENCE_ESCAPE + "0])")


def _walk(value: Any, on_text: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return on_text(value)
    if isinstance(value, list):
        return [_walk(item, on_text) for item in value]
    if isinstance(value, dict):
        return {key: _walk(item, on_text) for key, item in value.items()}
    return value


def _escape(text: str) -> str:
    return text.replace(EVIDENCE_ESCAPE, EVIDENCE_ESCAPE * 2).replace("\x00",
                                                                     EVIDENCE_ESCAPE + "0")


def _unescape(text: str) -> str:
    if EVIDENCE_ESCAPE not in text:
        return text
    return _ESCAPED.sub(lambda m: "\x00" if m[1] == "0" else EVIDENCE_ESCAPE, text)


class EvidenceEncoder(json.JSONEncoder):
    """Writes evidence with NUL escaped, so that PostgreSQL's jsonb accepts any line."""

    def encode(self, o: Any) -> str:
        return super().encode(_walk(o, _escape))


class EvidenceDecoder(json.JSONDecoder):
    """Reads evidence back exactly as it was said."""

    def decode(self, s: str, *args: Any, **kwargs: Any) -> Any:
        return _walk(super().decode(s, *args, **kwargs), _unescape)


class Report(models.Model):
    class Reason(models.TextChoices):
        HARASSMENT = "harassment"
        HATE = "hate"
        SEXUAL = "sexual"
        SPAM = "spam"
        MINOR_SAFETY = "minor_safety", "Minor safety"
        SELF_HARM = "self_harm", "Self-harm"
        OTHER = "other"

    class Status(models.TextChoices):
        OPEN = "open"
        DISMISSED = "dismissed"
        ACTIONED = "actioned"

    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                 related_name="reports_filed")
    reported = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                 related_name="reports_received")
    # The handles when the report was filed; an erased account's become a pseudonym.
    reporter_handle = models.CharField(max_length=150, blank=True)
    reported_handle = models.CharField(max_length=150, blank=True)
    conversation = models.ForeignKey("chat.Conversation", on_delete=models.SET_NULL, null=True,
                                     blank=True, related_name="reports")
    reason = models.CharField(max_length=16, choices=Reason.choices)
    note = models.TextField(blank=True, max_length=1000)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    # The live conversation's last lines when the report was filed:
    # [{"from": handle, "text": str, "ts": iso}], oldest first.
    evidence = models.JSONField(default=list, blank=True, encoder=EvidenceEncoder,
                                decoder=EvidenceDecoder)
    # The classifier's highest score (0..1) for the reported user's lines, where analysed.
    classifier_score = models.FloatField(null=True, blank=True)
    priority = models.FloatField(default=0, db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["reporter", "conversation"],
                                    name="one_report_per_reporter_and_conversation"),
        ]
        permissions = [("decide_report", "Can decide on reports (dismiss, warn, mute, ban)")]

    def __str__(self) -> str:
        return f"report {self.pk}: {self.reason}"

    @property
    def reported_name(self) -> str:
        return self.reported_handle or (self.reported.username if self.reported else "(deleted)")

    @property
    def reporter_name(self) -> str:
        """The reporter's handle; a report with no reporter is the classifier's."""
        return self.reporter_handle or (self.reporter.username if self.reporter
                                        else "(automatic)")


class AppendOnlyError(Exception):
    """The audit log is written once and never changed."""


class DecisionQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError("decisions are append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("decisions are append-only")


class Decision(models.Model):
    """One moderator decision: the append-only audit log."""

    class Action(models.TextChoices):
        DISMISS = "dismiss"
        WARN = "warn"
        MUTE = "mute"
        TEMPORARY_BAN = "temporary_ban", "Temporary ban"
        PERMANENT_BAN = "permanent_ban", "Permanent ban"
        APPEAL_REJECTED = "appeal_rejected", "Appeal rejected (decision stands)"
        APPEAL_GRANTED = "appeal_granted", "Appeal granted (decision lifted)"

    # Actions that count against the subject's record, unless an appeal lifted them.
    SANCTIONS = (Action.WARN, Action.MUTE, Action.TEMPORARY_BAN, Action.PERMANENT_BAN)

    action = models.CharField(max_length=16, choices=Action.choices)
    reason = models.TextField(max_length=1000)
    moderator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                  null=True, blank=True, related_name="+")
    subject = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                blank=True, related_name="moderation_decisions")
    # Kept so that the log still says whom it was about after the account is gone.
    subject_handle = models.CharField(max_length=150, blank=True)
    report = models.ForeignKey(Report, on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="decisions")
    # For appeal outcomes: the decision that was appealed.
    reviews = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True,
                                related_name="reviewed_by")
    until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = DecisionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} for {self.subject_handle or '-'}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("decisions are append-only")
        if self.subject_id and not self.subject_handle:
            self.subject_handle = self.subject.username
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("decisions are append-only")


class Restriction(models.Model):
    """A timed or permanent restriction a decision put on a user; `until` null is forever."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="+")
    decision = models.OneToOneField(Decision, on_delete=models.PROTECT, related_name="+")
    until = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(max_length=1000)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set when an appeal lifts the restriction before its end.
    lifted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at"]

    def __str__(self) -> str:
        end = self.until.isoformat() if self.until else "permanent"
        return f"{type(self).__name__.lower()} of {self.user_id} until {end}"


class Ban(Restriction):
    # Keyed hash of the address the account last signed in from (never the address itself),
    # so that new guest sign-ups from it are refused for a while.
    address_hash = models.CharField(max_length=64, blank=True, db_index=True)


class Mute(Restriction):
    pass


class Appeal(models.Model):
    """A user's one appeal against a decision about them."""

    class Status(models.TextChoices):
        OPEN = "open"
        REJECTED = "rejected", "Rejected (decision stands)"
        GRANTED = "granted", "Granted (decision lifted)"

    decision = models.OneToOneField(Decision, on_delete=models.PROTECT, related_name="appeal")
    appellant = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                  null=True, related_name="+")
    text = models.TextField(max_length=2000)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                    null=True, blank=True, related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        permissions = [("review_appeal", "Can review appeals")]

    def __str__(self) -> str:
        return f"appeal {self.pk} against decision {self.decision_id}"


class LineScore(models.Model):
    """The classifier's score (0..1) for one relayed line; the line's text is not kept.

    One row per line, so a batch analysed twice (a retried task) counts once."""

    conversation = models.UUIDField()
    seq = models.PositiveIntegerField()
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                               related_name="+")
    score = models.FloatField()
    scored_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "seq"], name="one_score_per_line"),
        ]
        indexes = [models.Index(fields=["conversation", "sender"])]

    def __str__(self) -> str:
        return f"line {self.conversation}.{self.seq}: {self.score:.2f}"


class ConversationScore(models.Model):
    """A sender's tally in one conversation, always recomputed from its `LineScore` rows."""

    conversation = models.UUIDField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="conversation_scores")
    total = models.FloatField(default=0)  # the sum of the scores of the flagged lines
    flagged_lines = models.PositiveIntegerField(default=0)
    max_score = models.FloatField(default=0)
    # The automatic report this tally filed; set once, so a conversation files one.
    report = models.ForeignKey(Report, on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "user"],
                                    name="one_score_per_user_and_conversation"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.conversation}: {self.total:.2f}"
