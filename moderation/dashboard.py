"""Figures for the admin index: the queue now and the last days' work."""
from datetime import date, timedelta
from typing import Any

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from moderation.models import Appeal, Decision, Report

DASHBOARD_DAYS = 14


def _per_day(queryset: Any, field: str, since: date) -> dict[date, int]:
    rows = (queryset.filter(**{f"{field}__date__gte": since})
            .annotate(day=TruncDate(field)).values("day").annotate(n=Count("id")))
    return {row["day"]: row["n"] for row in rows}


def moderation_figures(days: int = DASHBOARD_DAYS) -> dict[str, Any]:
    today = timezone.now().date()
    since = today - timedelta(days=days - 1)
    filed = _per_day(Report.objects.all(), "created_at", since)
    still_open = _per_day(Report.objects.filter(status=Report.Status.OPEN), "created_at", since)
    decided = _per_day(Decision.objects.all(), "created_at", since)
    return {
        "open_reports": Report.objects.filter(status=Report.Status.OPEN).count(),
        "open_appeals": Appeal.objects.filter(status=Appeal.Status.OPEN).count(),
        "decisions_today": decided.get(today, 0),
        "days": [{"day": day, "reports": filed.get(day, 0), "open": still_open.get(day, 0),
                  "decisions": decided.get(day, 0)}
                 for day in (since + timedelta(days=i) for i in range(days))],
    }
