"""Moderation's receivers: sign-in addresses for ban evasion, and an erased account's handle
replaced by its pseudonym in reports and decisions (accounts.signals.account_erasing)."""
from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.db import models
from django.dispatch import receiver
from django.http import HttpRequest

from accounts.addresses import client_address
from accounts.signals import account_erasing
from moderation.bans import remember_signin_address
from moderation.models import Decision, Report


@receiver(user_logged_in)
def remember_address_for_bans(sender: Any, request: HttpRequest | None, user: Any,
                              **kwargs: Any) -> None:
    if request is not None:
        remember_signin_address(user.pk, client_address(request))


@receiver(account_erasing, dispatch_uid="moderation.pseudonymise")
def pseudonymise_moderation_records(sender: Any, user: Any, pseudonym: str, **_: Any) -> None:
    """Reports and decisions stay; the handle in them is replaced."""
    involving = Report.objects.filter(models.Q(reporter_id=user.pk) | models.Q(reported_id=user.pk))
    report_fields = {field.name for field in Report._meta.get_fields()}
    for side in ("reporter", "reported"):
        # Needs `<side>_handle` on Report (a snapshot of the handle when the report was filed).
        if f"{side}_handle" in report_fields:
            Report.objects.filter(**{f"{side}_id": user.pk}).update(
                **{f"{side}_handle": pseudonym})
    for report in involving.exclude(evidence=[]).only("evidence"):
        evidence = [{**line, "from": pseudonym} if line.get("from") == user.username else line
                    for line in report.evidence]
        if evidence != report.evidence:
            Report.objects.filter(pk=report.pk).update(evidence=evidence)
    # The decision log is append-only (moderation migration 0007's trigger): the one change
    # it allows is clearing the subject of an erased account while its handle becomes the
    # pseudonym, in one statement, so the guarded manager is bypassed on purpose here.
    models.QuerySet.update(Decision.objects.filter(subject_id=user.pk),
                           subject_handle=pseudonym, subject=None)
