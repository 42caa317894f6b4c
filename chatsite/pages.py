"""The site's plain pages: terms, community rules, privacy, and accepting the rules.

The pages are static text; accepting the rules is one POST that records it on the account
(accounts.rules) and goes back to the chat page.
"""
from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.rules import accept_rules


def retention_context() -> dict[str, int]:
    """The numbers the pages quote, from the settings that enforce them."""
    return {
        "history_days": settings.HISTORY_RETENTION_DAYS,
        "guest_days": settings.GUEST_RETENTION_DAYS,
        "grace_seconds": settings.RECONNECT_GRACE_SECONDS,
        "log_minutes": max(5, 4 * settings.RECONNECT_GRACE_SECONDS // 60),
        # The privacy page (issue 12): what waits for analysis, and for how long.
        "log_lines": settings.CONVERSATION_LOG_LINES,
        "analysis_minutes": max(1, settings.ANALYSIS_PENDING_TTL_SECONDS // 60),
        "analysis_max": settings.ANALYSIS_PENDING_MAX,
        "export_hours": settings.EXPORT_LINK_HOURS,
    }


def terms(request: HttpRequest) -> HttpResponse:
    return render(request, "pages/terms.html", retention_context())


def rules(request: HttpRequest) -> HttpResponse:
    return render(request, "pages/rules.html", retention_context())


def privacy(request: HttpRequest) -> HttpResponse:
    return render(request, "pages/privacy.html", retention_context())


@require_POST
@login_required
def rules_accept(request: HttpRequest) -> HttpResponse:
    accept_rules(request.user)
    return redirect("chat")
