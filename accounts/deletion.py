"""Deleting an account: what goes, and what stays for moderation under a pseudonym.

Goes: the user's kept history and exports, preferences (on the user row), blocks they made,
their live socket and the user row itself. Stays: reports filed by or about them and
moderation decisions about them, with every handle replaced by a stable pseudonym such as
`deleted-3f9a2c`, so that moderators can still see that several records concern one person.
"""
import hashlib
import hmac
import logging

from django.conf import settings
from django.db import models, transaction

from accounts.handles import PSEUDONYM_PREFIX
from accounts.models import User

log = logging.getLogger(__name__)

def pseudonym_for(user_id: int) -> str:
    """The same id always gives the same pseudonym; without SECRET_KEY it cannot be traced back."""
    digest = hmac.new(settings.SECRET_KEY.encode(), f"deleted-account:{user_id}".encode(),
                      hashlib.sha256).hexdigest()
    return PSEUDONYM_PREFIX + digest[:6]


def erase_history(user_id: int) -> None:
    from chat.history import erase_user_history

    erase_user_history(user_id)


def close_live_socket(user_id: int) -> None:
    from chat.notify import notify_user_sync

    notify_user_sync(user_id, {"type": "chat.account_closed"})


def pseudonymise_moderation_records(user: User, pseudonym: str) -> None:
    """Reports and decisions stay; the handle in them is replaced."""
    from moderation.models import Decision, Report

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


def delete_account(user_id: int) -> bool:
    """Erase the account; False when it is already gone (so a retry does nothing)."""
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        return False
    # An inactive user can neither log in nor open a new socket while the erasure runs.
    User.objects.filter(pk=user_id).update(is_active=False)
    erase_history(user_id)
    with transaction.atomic():
        pseudonymise_moderation_records(user, pseudonym_for(user_id))
        user.blocks_made.all().delete()
        user.delete()
        # The live socket is told once the account is really gone (a rolled-back erasure
        # leaves it chatting); robust: a channel layer that is down does not undo the erasure.
        transaction.on_commit(lambda: close_live_socket(user_id), robust=True)
    log.info("account %s deleted", user_id)
    return True
