"""Filing reports: one per reporter and conversation."""
from django.db import IntegrityError, transaction

from moderation.models import Report

REASONS = frozenset(Report.Reason.values)
NOTE_MAX_LENGTH = 1000


def file_report(reporter_id: int, reported_id: int, conversation_id: str | None, reason: str,
                note: str) -> Report:
    """Store a report; a second one for the same conversation updates the first's note."""
    try:
        with transaction.atomic():
            return Report.objects.create(reporter_id=reporter_id, reported_id=reported_id,
                                         conversation_id=conversation_id, reason=reason,
                                         note=note[:NOTE_MAX_LENGTH])
    except IntegrityError:
        report = Report.objects.get(reporter_id=reporter_id, conversation_id=conversation_id)
        if note and not report.note:
            report.note = note[:NOTE_MAX_LENGTH]
            report.save(update_fields=["note"])
        return report
