"""Filing reports: one per reporter and conversation, with a snapshot of the evidence."""
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from moderation.models import Report
from moderation.priority import refresh_priorities

REASONS = frozenset(Report.Reason.values)
NOTE_MAX_LENGTH = 1000
EVIDENCE_FIELDS = ("from", "text", "ts")


class ReportError(ValueError):
    """The report was refused; nothing was stored."""


def clean_evidence(evidence: list[dict[str, Any]] | None) -> list[dict[str, str]]:
    """Keep the last lines, each reduced to `from`, `text` and `ts` as strings."""
    if evidence is None:
        return []
    if not isinstance(evidence, list) or not all(isinstance(line, dict) for line in evidence):
        raise ReportError("evidence must be a list of lines")
    lines = evidence[-settings.CONVERSATION_LOG_LINES:]
    return [{key: str(line.get(key) or "")[:settings.MESSAGE_MAX_LENGTH]
             for key in EVIDENCE_FIELDS} for line in lines]


def evidence_from(lines: list[dict[str, Any]], handles: dict[int, str]) -> list[dict[str, str]]:
    """A live conversation's logged lines (chat.store) as a report's evidence: what was said,
    also where the filter masked it for the partner."""
    return [{"from": handles.get(line.get("sender"), "?"),
             "text": line.get("said") or line.get("text", ""), "ts": line.get("ts", "")}
            for line in lines]


def file_report(reporter_id: int | None, reported_id: int, conversation_id: str | None,
                reason: str, note: str = "", evidence: list[dict[str, Any]] | None = None,
                classifier_score: float | None = None) -> Report:
    """Store a report; a second one for the same conversation completes the first.

    `reporter_id` None is an automatic report (the classifier's)."""
    if reason not in REASONS:
        raise ReportError(f"unknown reason {reason!r}; one of {', '.join(sorted(REASONS))}")
    if reporter_id is not None and reporter_id == reported_id:
        raise ReportError("a user cannot report themselves")
    lines = clean_evidence(evidence)
    # A note is typed into a form: NUL, which no text column holds, is dropped. Evidence keeps
    # it (moderation.models.EvidenceEncoder), as it is what was said.
    note = (note or "").replace("\x00", "")[:NOTE_MAX_LENGTH]
    try:
        with transaction.atomic():
            handles = dict(get_user_model().objects.filter(pk__in=[reporter_id, reported_id])
                           .values_list("pk", "username"))
            report = Report.objects.create(
                reporter_id=reporter_id, reported_id=reported_id,
                reporter_handle=handles.get(reporter_id, ""),
                reported_handle=handles.get(reported_id, ""),
                conversation_id=conversation_id, reason=reason, note=note, evidence=lines,
                classifier_score=classifier_score)
    except IntegrityError:
        report = Report.objects.get(reporter_id=reporter_id, conversation_id=conversation_id)
        changed = []
        if note and not report.note:
            report.note = note
            changed.append("note")
        if lines and not report.evidence:
            report.evidence = lines
            changed.append("evidence")
        if classifier_score is not None and (report.classifier_score or 0) < classifier_score:
            report.classifier_score = classifier_score
            changed.append("classifier_score")
        if changed:
            report.save(update_fields=changed)
    # Another reporter against the same user raises the priority of every open report on them.
    refresh_priorities(reported_id=reported_id)
    report.refresh_from_db(fields=["priority"])
    return report
