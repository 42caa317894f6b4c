"""`{{ ts|readable_time }}`: an ISO 8601 time of the export document as people read it.

The export keeps exact ISO times (the JSON and CSV carry them, and `<time datetime>` too); the
HTML shows "28 Nov 2026, 06:35 UTC".
"""
from __future__ import annotations

from datetime import UTC, datetime

from django import template

register = template.Library()


@register.filter
def readable_time(value: object) -> str:
    if not isinstance(value, str) or not value:
        return "" if value is None else str(value)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%-d %b %Y, %H:%M UTC")
