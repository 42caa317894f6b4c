from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie

from chat.health import DOWN, health
from chat.matching import MODES


@ensure_csrf_cookie
def landing(request: HttpRequest) -> HttpResponse:
    # `?switch=1`: a signed-in person asked for a new guest; the page asks before replacing.
    switching = request.user.is_authenticated and request.GET.get("switch") == "1"
    return render(request, "landing.html", {"switching": switching})


@login_required
@ensure_csrf_cookie
def chat_page(request: HttpRequest) -> HttpResponse:
    return render(request, "chat.html", {
        "modes": MODES, "grace_seconds": settings.RECONNECT_GRACE_SECONDS,
        "last_partner_seconds": getattr(settings, "LAST_PARTNER_SECONDS", 60)})


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    states = health()
    status = 503 if DOWN in states.values() else 200
    return JsonResponse(states, status=status)
