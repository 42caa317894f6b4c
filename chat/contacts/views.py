"""Pages and endpoints of keeping in touch (protocol section 5): parse, call
`chat.contacts.services` or `push`, render. HTML for people, JSON for `Accept:
application/json` or `?format=json`."""
from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from chat.contacts import push, services
from chat.contacts.models import Contact
from chat.contacts.services import ContactError
from chat.matching import MODES
from moderation.models import Report

ERROR_STATUS = MappingProxyType({"not_a_contact": 404, "rate_limited": 429})


def wants_json(request: HttpRequest) -> bool:
    return (request.GET.get("format") == "json"
            or "application/json" in request.headers.get("Accept", ""))


def error_response(request: HttpRequest, error: ContactError,
                   back: str) -> HttpResponse:
    """A refused action: JSON `{"error": code, "message": ...}`, or the page with a notice."""
    if error.code == "not_a_contact" and not wants_json(request):
        raise Http404("No such contact.")
    if wants_json(request):
        response = JsonResponse({"error": error.code, "message": str(error)},
                                status=ERROR_STATUS.get(error.code, 400))
    else:
        messages.error(request, str(error))
        response = redirect(back)
    if error.retry_after is not None:
        response["Retry-After"] = str(max(1, round(error.retry_after)))
    return response


def own_contact(request: HttpRequest, contact_id: uuid.UUID) -> Contact:
    contact = services.contact_of(request.user.id, contact_id)
    if contact is None:
        raise Http404("No such contact.")
    return contact


def done(request: HttpRequest, notice: str, back: str = "contacts") -> HttpResponse:
    if wants_json(request):
        return JsonResponse({"ok": True})
    messages.success(request, notice)
    return redirect(back)


@never_cache
@login_required
@require_GET
def contact_list(request: HttpRequest) -> HttpResponse:
    entries = services.contact_list(request.user.id)
    if wants_json(request):
        return JsonResponse({"contacts": entries})
    return render(request, "contacts/list.html", {
        "contacts": entries, "modes": MODES, "push_key": settings.VAPID_PUBLIC_KEY
        if push.enabled() else ""})


@never_cache
@login_required
@require_GET
def thread(request: HttpRequest, contact_id: uuid.UUID) -> HttpResponse:
    contact = own_contact(request, contact_id)
    letters = services.letters_with(request.user.id, contact)
    if wants_json(request):
        return JsonResponse({"letters": letters})
    entry = services.contact_summary(request.user.id, contact)
    return render(request, "contacts/thread.html", {
        "contact": entry, "letters": letters, "modes": MODES,
        "max_length": settings.MESSAGE_MAX_LENGTH, "reasons": Report.Reason.choices,
        "poll_seconds": settings.CONTACTS_PAGE_POLL_SECONDS})


@login_required
@require_POST
def write(request: HttpRequest, contact_id: uuid.UUID) -> HttpResponse:
    back = f"/contacts/{contact_id}/"
    try:
        letter = services.write_letter(request.user.id, contact_id, request.POST.get("text"))
    except ContactError as error:
        return error_response(request, error, back)
    if wants_json(request):
        return JsonResponse({"letter": services.letter_frame(letter, request.user.id)},
                            status=201)
    return redirect(back)


def ended(request: HttpRequest, contact_id: uuid.UUID,
          end: Callable[[int, uuid.UUID], bool], notice: str) -> HttpResponse:
    """The contact ended by `end` (removed, blocked), or 404 when there is no such contact."""
    if not end(request.user.id, contact_id):
        raise Http404("No such contact.")
    return done(request, notice)


@login_required
@require_POST
def remove(request: HttpRequest, contact_id: uuid.UUID) -> HttpResponse:
    return ended(request, contact_id, services.remove, "The contact is removed, with its letters.")


@login_required
@require_POST
def block(request: HttpRequest, contact_id: uuid.UUID) -> HttpResponse:
    return ended(request, contact_id, services.block,
                 "Blocked. You will not meet, be invited by or hear from them again.")


@login_required
@require_POST
def report(request: HttpRequest, contact_id: uuid.UUID) -> HttpResponse:
    try:
        filed = services.report(request.user.id, contact_id, request.POST.get("reason"),
                                request.POST.get("note", ""))
    except ContactError as error:
        return error_response(request, error, f"/contacts/{contact_id}/")
    if wants_json(request):
        return JsonResponse({"report": filed.pk}, status=201)
    messages.success(request, "Thank you. A moderator will read the letters you reported.")
    return redirect(f"/contacts/{contact_id}/")


def json_body(request: HttpRequest) -> Any:
    try:
        return json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        return None


@login_required
@require_POST
def push_subscribe(request: HttpRequest) -> JsonResponse:
    if not push.enabled():
        raise Http404("Notifications are not available here.")
    try:
        push.subscribe(request.user.id, json_body(request))
    except push.PushError as error:
        return JsonResponse({"error": "bad_subscription", "message": str(error)}, status=400)
    return JsonResponse({"ok": True}, status=201)


@login_required
@require_POST
def push_unsubscribe(request: HttpRequest) -> JsonResponse:
    if not push.enabled():
        raise Http404("Notifications are not available here.")
    body = json_body(request)
    push.unsubscribe(request.user.id, body.get("endpoint") if isinstance(body, dict) else None)
    return JsonResponse({"ok": True})
