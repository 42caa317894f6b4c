from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.forms import ClaimGuestForm, PreferencesForm
from accounts.guests import claim_guest, create_guest
from chat.ratelimit import hit


def client_address(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "") or "unknown"


@require_POST
def guest_signup(request: HttpRequest) -> HttpResponse:
    retry_after = hit(f"guest:{client_address(request)}", settings.GUEST_RATE_LIMIT)
    if retry_after is not None:
        response = render(request, "accounts/guest_limited.html",
                          {"retry_after": int(retry_after) + 1}, status=429)
        response["Retry-After"] = str(int(retry_after) + 1)
        return response
    user = create_guest()
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return redirect("chat")


@login_required
def account_settings(request: HttpRequest) -> HttpResponse:
    user = request.user
    preferences = PreferencesForm(instance=user)
    claim = ClaimGuestForm(user) if user.is_guest else None
    if request.method == "POST" and request.POST.get("form") == "claim" and user.is_guest:
        claim = ClaimGuestForm(user, request.POST)
        if claim.is_valid():
            claim_guest(user, claim.cleaned_data["new_password1"])
            update_session_auth_hash(request, user)
            messages.success(request, f"Your account is saved: log in as {user.username} "
                                      "with your new password.")
            return redirect("account_settings")
    elif request.method == "POST":
        preferences = PreferencesForm(request.POST, instance=user)
        if preferences.is_valid():
            preferences.save()
            messages.success(request, "Your preferences are saved.")
            return redirect("account_settings")
    return render(request, "accounts/settings.html",
                  {"preferences": preferences, "claim": claim})
