"""What a user sees of moderation: the decisions about them, and their one appeal each."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from moderation.bans import active_ban, active_mute
from moderation.decisions import APPEALABLE, DecisionError, file_appeal
from moderation.doors import give_marker
from moderation.models import Decision


@login_required
def my_decisions(request: HttpRequest) -> HttpResponse:
    decisions = (Decision.objects.filter(subject_id=request.user.pk, action__in=APPEALABLE)
                 .select_related("appeal").order_by("-created_at"))
    ban = active_ban(request.user.pk)
    response = render(request, "moderation/decisions.html", {
        "decisions": decisions,
        "ban": ban,
        "mute_until": active_mute(request.user.pk),
    })
    # The ban notice marks the browser, so that a fresh account from it is refused.
    return give_marker(response, ban) if ban is not None else response


@login_required
@require_POST
def appeal(request: HttpRequest, decision_id: int) -> HttpResponse:
    try:
        file_appeal(request.user.pk, decision_id, request.POST.get("text", ""))
    except DecisionError as error:
        messages.error(request, str(error))
        return redirect("moderation:decisions")
    messages.success(request, "Your appeal is sent. A moderator other than the one who "
                              "decided will review it.")
    return redirect("moderation:decisions")
