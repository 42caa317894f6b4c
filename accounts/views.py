from allauth.account.adapter import get_adapter
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from accounts.addresses import client_address
from accounts.deletion import delete_account
from accounts.forms import (
    ClaimGuestForm,
    DeleteAccountForm,
    HistoryToggleForm,
    PreferencesForm,
)
from accounts.guests import claim_guest, create_guest
from accounts.rules import accept_rules
from chatsite.plumbing.live import notify_user_on_commit
from chatsite.plumbing.ratelimit import hit


@require_POST
def guest_signup(request: HttpRequest) -> HttpResponse:
    # Whoever is signed in keeps the account unless they said, on the landing page, that
    # they want to leave it for a new guest.
    if request.user.is_authenticated and request.POST.get("switch") != "yes":
        return redirect(reverse("landing") + "?switch=1")
    address = client_address(request)
    # One ban check for every door (moderation.doors, through the account adapter).
    refused = get_adapter(request).door_response(request)
    if refused is not None:
        return refused
    retry_after = hit(f"guest:{address}", settings.GUEST_RATE_LIMIT)
    if retry_after is not None:
        seconds = int(retry_after) + 1
        response = render(request, "accounts/guest_limited.html",
                          {"retry_after": seconds}, status=429)
        response["Retry-After"] = str(seconds)
        return response
    user = create_guest()
    # The button that posts here reads "I am 18 or older and accept the community rules".
    accept_rules(user)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return redirect("chat")


@login_required
def account_settings(request: HttpRequest) -> HttpResponse:
    user = request.user
    preferences = PreferencesForm(instance=user)
    claim = ClaimGuestForm(user) if user.is_guest else None
    if request.method == "POST" and request.POST.get("form") == "claim":
        if not user.is_guest:
            messages.error(request, "This account already has a password.")
            return redirect("account_settings")
        refused = get_adapter(request).door_response(request, user)
        if refused is not None:
            return refused
        claim = ClaimGuestForm(user, request.POST)
        if claim.is_valid():
            claim_guest(user, claim.cleaned_data["new_password1"])
            update_session_auth_hash(request, user)
            messages.success(request, f"Your account is saved: log in as {user.username} "
                                      "with your new password.")
            return redirect("account_settings")
        messages.error(request, "Your account is not saved yet: see the errors below.")
    elif request.method == "POST":
        # The chat page's toggle asks for JSON: it shows the outcome in place.
        wants_json = "application/json" in request.headers.get("Accept", "")
        form_class = HistoryToggleForm if wants_json else PreferencesForm
        preferences = form_class(request.POST, instance=user)
        if preferences.is_valid():
            preferences.save()
            # The live socket read the preference when it connected; it holds from its next
            # `find` (chat.live.searching).
            notify_user_on_commit(user.pk, {"type": "chat.preferences",
                                            "keeps_history": user.keeps_history})
            if wants_json:
                return JsonResponse({"keeps_history": user.keeps_history})
            messages.success(request, "Your preferences are saved.")
            return redirect("account_settings")
        if wants_json:
            return JsonResponse({"errors": preferences.errors.get_json_data()}, status=400)
        messages.error(request, "Nothing was changed: see the errors below.")
    return render(request, "accounts/settings.html",
                  {"preferences": preferences, "claim": claim})


@login_required
@require_http_methods(["GET", "POST"])
def account_delete(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = DeleteAccountForm(user, request.POST if request.method == "POST" else None)
    if form.is_valid():
        delete_account(user.pk)
        logout(request)
        messages.success(request, "Your account and everything kept with it are deleted.")
        return redirect("landing")
    return render(request, "accounts/delete_confirm.html", {"form": form})
