from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie

from chat.matching import MODES
from chatsite.plumbing.health import DOWN, health
from moderation.bans import active_ban
from moderation.doors import give_marker


@ensure_csrf_cookie
def landing(request: HttpRequest) -> HttpResponse:
    # `?switch=1`: a signed-in person asked for a new guest; the page asks before replacing.
    switching = request.user.is_authenticated and request.GET.get("switch") == "1"
    return render(request, "landing.html", {"switching": switching})


@login_required
@ensure_csrf_cookie
def chat_page(request: HttpRequest) -> HttpResponse:
    response = render(request, "chat.html", {
        "modes": MODES, "grace_seconds": settings.RECONNECT_GRACE_SECONDS,
        "last_partner_seconds": getattr(settings, "LAST_PARTNER_SECONDS", 60)})
    # A banned account's page marks the browser, so that a fresh account from it is refused
    # (the socket cannot set a cookie: daphne ignores headers on websocket.accept).
    ban = active_ban(request.user.pk)
    return give_marker(response, ban) if ban is not None else response


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    states = health()
    status = 503 if DOWN in states.values() else 200
    return JsonResponse(states, status=status)
