"""The queue's order: which open report a moderator should read first.

priority = reporter weight x (reason severity + corroboration) + classifier + record

- reason severity: minor safety and self-harm first;
- corroboration: other distinct reporters with open reports against the same user, each
  counted by their own weight (so that a ring of report-bombers adds little);
- classifier: the offline classifier's score for the reported user's lines, when there is one;
- record: the reported user's earlier sanctions that an appeal did not lift;
- reporter weight: the reporter's past accuracy, (actioned + 2) / (actioned + dismissed + 2),
  1 for a newcomer and falling with every dismissed report, so report-bombing sinks.
  Automatic reports weigh 1.
"""
from types import MappingProxyType

from django.db.models import Count, Q

from moderation.models import Appeal, ConversationScore, Decision, Report

SEVERITY = MappingProxyType({
    Report.Reason.MINOR_SAFETY: 100.0,
    Report.Reason.SELF_HARM: 90.0,
    Report.Reason.HATE: 60.0,
    Report.Reason.HARASSMENT: 50.0,
    Report.Reason.SEXUAL: 50.0,
    Report.Reason.SPAM: 20.0,
    Report.Reason.OTHER: 15.0,
})
CLASSIFIER_WEIGHT = 40.0
CORROBORATION_PER_REPORTER = 15.0
CORROBORATION_MAX = 60.0
RECORD_PER_SANCTION = 10.0
RECORD_MAX = 40.0


def reporter_weight(reporter_id: int | None) -> float:
    if reporter_id is None:
        return 1.0
    counts = Report.objects.filter(reporter_id=reporter_id).aggregate(
        actioned=Count("id", filter=Q(status=Report.Status.ACTIONED)),
        dismissed=Count("id", filter=Q(status=Report.Status.DISMISSED)))
    return (counts["actioned"] + 2) / (counts["actioned"] + counts["dismissed"] + 2)


def upheld_sanctions(user_id: int) -> int:
    """The user's warnings, mutes and bans that no appeal lifted."""
    return (Decision.objects.filter(subject_id=user_id, action__in=Decision.SANCTIONS)
            .exclude(appeal__status=Appeal.Status.GRANTED).count())


def corroboration(report: Report) -> float:
    others = (Report.objects.filter(reported_id=report.reported_id, status=Report.Status.OPEN)
              .exclude(pk=report.pk))
    if report.reporter_id is not None:
        others = others.exclude(reporter_id=report.reporter_id)
    reporters = set(others.values_list("reporter_id", flat=True))
    total = sum(CORROBORATION_PER_REPORTER * reporter_weight(r) for r in reporters)
    return min(CORROBORATION_MAX, total)


def classifier_score(report: Report) -> float | None:
    """The report's own score, else the reported user's tally in that conversation."""
    if report.classifier_score is not None:
        return report.classifier_score
    if report.conversation_id is None or report.reported_id is None:
        return None
    return (ConversationScore.objects.filter(conversation=report.conversation_id,
                                             user_id=report.reported_id)
            .values_list("max_score", flat=True).first())


def compute_priority(report: Report) -> float:
    score = reporter_weight(report.reporter_id) * (
        SEVERITY.get(report.reason, SEVERITY[Report.Reason.OTHER]) + corroboration(report))
    classified = classifier_score(report)
    if classified is not None:
        score += CLASSIFIER_WEIGHT * max(0.0, min(1.0, classified))
    if report.reported_id is not None:
        score += min(RECORD_MAX, RECORD_PER_SANCTION * upheld_sanctions(report.reported_id))
    return round(score, 2)


def refresh_priorities(reported_id: int | None = None, reporter_id: int | None = None,
                       report_id: int | None = None) -> int:
    """Recompute the open reports against `reported_id`, by `reporter_id`, or one report.

    Call it whenever an input changes: a new report, a decision, an appeal outcome, a new
    classifier score. Returns how many reports changed."""
    if reported_id is None and reporter_id is None and report_id is None:
        return 0
    selector = Q(pk=report_id) if report_id is not None else Q(pk__in=[])
    if reported_id is not None:
        selector |= Q(reported_id=reported_id)
    if reporter_id is not None:
        selector |= Q(reporter_id=reporter_id)
    changed = 0
    for report in Report.objects.filter(selector, status=Report.Status.OPEN):
        priority = compute_priority(report)
        if priority != report.priority:
            Report.objects.filter(pk=report.pk).update(priority=priority)
            changed += 1
    return changed
