from django.conf import settings
from django.db import models


class Report(models.Model):
    class Reason(models.TextChoices):
        HARASSMENT = "harassment"
        HATE = "hate"
        SEXUAL = "sexual"
        SPAM = "spam"
        MINOR_SAFETY = "minor_safety", "minor safety"
        SELF_HARM = "self_harm", "self-harm"
        OTHER = "other"

    class Status(models.TextChoices):
        OPEN = "open"
        DISMISSED = "dismissed"
        ACTIONED = "actioned"

    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                 related_name="reports_filed")
    reported = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                 related_name="reports_received")
    conversation = models.ForeignKey("chat.Conversation", on_delete=models.SET_NULL, null=True,
                                     blank=True, related_name="reports")
    reason = models.CharField(max_length=16, choices=Reason.choices)
    note = models.TextField(blank=True, max_length=1000)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["reporter", "conversation"],
                                    name="one_report_per_reporter_and_conversation"),
        ]

    def __str__(self) -> str:
        return f"report {self.pk}: {self.reason}"
