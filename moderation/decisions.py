"""Moderator decisions on reports and appeals, and users' appeals.

Every decision is one row of the append-only audit log (`Decision`); the ban and mute rules
live in `moderation.bans`, the queue order in `moderation.priority`.
"""
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from moderation.bans import (
    ban_durations,
    issue_ban,
    issue_mute,
    lift_restrictions,
    mute_durations,
)
from moderation.models import Appeal, Decision, Report
from moderation.priority import refresh_priorities

REASON_MAX_LENGTH = 1000
APPEAL_MAX_LENGTH = 2000
# What a moderator may do with a report, and what each action needs besides a reason.
REPORT_ACTIONS = (Decision.Action.DISMISS, Decision.Action.WARN, Decision.Action.MUTE,
                  Decision.Action.TEMPORARY_BAN, Decision.Action.PERMANENT_BAN)
# Decisions a user is told about and may appeal (a dismissal is not about them).
APPEALABLE = Decision.SANCTIONS


class DecisionError(ValueError):
    """The decision was refused; nothing changed."""


def _clean_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise DecisionError("give a reason: it goes to the audit log and to the user")
    if len(reason) > REASON_MAX_LENGTH:
        raise DecisionError(f"the reason is longer than {REASON_MAX_LENGTH} characters")
    return reason


def duration_for(action: str, duration: str | None) -> timedelta | None:
    """The preset duration a timed action needs; None for the others."""
    presets = {Decision.Action.TEMPORARY_BAN: ban_durations,
               Decision.Action.MUTE: mute_durations}.get(action)
    if presets is None:
        return None
    choices = presets()
    if duration not in choices:
        raise DecisionError(f"pick a duration: one of {', '.join(choices)}")
    return choices[duration]


def decide_report(report_id: int, moderator_id: int, action: str, reason: str,
                  duration: str | None = None) -> Decision:
    """Apply a moderator's decision to an open report and write it to the audit log."""
    if action not in REPORT_ACTIONS:
        raise DecisionError(f"unknown action {action!r}")
    reason = _clean_reason(reason)
    length = duration_for(action, duration)
    with transaction.atomic():
        report = Report.objects.select_for_update().filter(pk=report_id).first()
        if report is None:
            raise DecisionError("no such report")
        if report.status != Report.Status.OPEN:
            raise DecisionError(f"report {report_id} was already decided ({report.status})")
        if report.reported_id is None and action != Decision.Action.DISMISS:
            raise DecisionError("the reported account no longer exists; dismiss the report")
        until = timezone.now() + length if length else None
        subject_id = report.reported_id
        if action in (Decision.Action.TEMPORARY_BAN, Decision.Action.PERMANENT_BAN):
            decision = issue_ban(subject_id, reason, until, moderator_id, report.pk).decision
        elif action == Decision.Action.MUTE:
            decision = issue_mute(subject_id, reason, until, moderator_id, report.pk).decision
        else:
            decision = Decision.objects.create(action=action, reason=reason,
                                               moderator_id=moderator_id,
                                               subject_id=subject_id, report=report)
        report.status = (Report.Status.DISMISSED if action == Decision.Action.DISMISS
                         else Report.Status.ACTIONED)
        report.resolved_at = timezone.now()
        report.save(update_fields=["status", "resolved_at"])
        # The reporter's accuracy and the reported user's record have changed.
        refresh_priorities(reported_id=subject_id, reporter_id=report.reporter_id)
    return decision


def file_appeal(user_id: int, decision_id: int, text: str) -> Appeal:
    """The user appeals a decision about them, once."""
    text = (text or "").strip()
    if not text:
        raise DecisionError("say why the decision should be lifted")
    if len(text) > APPEAL_MAX_LENGTH:
        raise DecisionError(f"the appeal is longer than {APPEAL_MAX_LENGTH} characters")
    decision = Decision.objects.filter(pk=decision_id, subject_id=user_id,
                                       action__in=APPEALABLE).first()
    if decision is None:
        raise DecisionError("no such decision about you")
    try:
        with transaction.atomic():
            return Appeal.objects.create(decision=decision, appellant_id=user_id, text=text)
    except IntegrityError:
        raise DecisionError("you have already appealed this decision") from None


def decide_appeal(appeal_id: int, moderator_id: int, grant: bool, reason: str) -> Decision:
    """Grant (lift the decision) or reject an appeal; never by the moderator who decided."""
    reason = _clean_reason(reason)
    with transaction.atomic():
        appeal = (Appeal.objects.select_for_update().select_related("decision")
                  .filter(pk=appeal_id).first())
        if appeal is None:
            raise DecisionError("no such appeal")
        if appeal.status != Appeal.Status.OPEN:
            raise DecisionError(f"appeal {appeal_id} was already reviewed")
        if appeal.decision.moderator_id == moderator_id:
            raise DecisionError("another moderator must review an appeal against your decision")
        action = Decision.Action.APPEAL_GRANTED if grant else Decision.Action.APPEAL_REJECTED
        decision = Decision.objects.create(
            action=action, reason=reason, moderator_id=moderator_id,
            subject_id=appeal.decision.subject_id, report_id=appeal.decision.report_id,
            reviews=appeal.decision)
        if grant:
            lift_restrictions(appeal.decision_id)
        appeal.status = Appeal.Status.GRANTED if grant else Appeal.Status.REJECTED
        appeal.reviewed_by_id = moderator_id
        appeal.reviewed_at = timezone.now()
        appeal.save(update_fields=["status", "reviewed_by", "reviewed_at"])
        if appeal.decision.subject_id:
            refresh_priorities(reported_id=appeal.decision.subject_id)
    return decision
