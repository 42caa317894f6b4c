"""Staff accounts worth stealing: failed-login lock-out (django-axes) and a second factor
(django-otp TOTP) for /admin/.

Lock-out: axes counts failed logins on both login pages (`/accounts/login/` through allauth,
`/admin/login/`) per client address and handle, the address being `client_address` (so it
holds behind TRUSTED_PROXY_COUNT proxies), and shares the count between processes through the
database. A second factor: a staff member with a confirmed TOTP device, or every staff member
when STAFF_REQUIRE_2FA is on, reaches /admin/ only after entering a code on the two-factor
page, which also enrols a device.
"""
from __future__ import annotations

from base64 import b32encode
from collections.abc import Callable
from ipaddress import ip_address
from typing import Any
from urllib.parse import quote

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django_otp import login as otp_login
from django_otp import user_has_device
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.addresses import client_address

ADMIN_PREFIX = "/admin/"
ADMIN_OPEN_PATHS = ("/admin/login/", "/admin/logout/")


def axes_client_address(request: HttpRequest) -> str | None:
    """`client_address` for axes, which stores it in an address column: None when unknown
    (a login made by the server itself, such as a test's force_login)."""
    address = client_address(request)
    try:
        return str(ip_address(address))
    except ValueError:
        return None


def axes_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str:
    """The handle tried, whichever login page (allauth's field is `login`); handles ignore
    case, so QuietOtter and quietotter count as one."""
    credentials = credentials or {}
    tried = (credentials.get("username") or request.POST.get("login")
             or request.POST.get("username") or "")
    return str(tried).strip().lower()[:150]


def needs_second_factor(user: Any) -> bool:
    """A staff member must enter a code: when the site requires it, or they enrolled."""
    if not (user.is_authenticated and user.is_staff):
        return False
    return settings.STAFF_REQUIRE_2FA or user_has_device(user, confirmed=True)


class StaffSecondFactorMiddleware:
    """/admin/ (past its login page) for verified staff only; others go to the 2FA page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path
        if (path.startswith(ADMIN_PREFIX) and not path.startswith(ADMIN_OPEN_PATHS)
                and needs_second_factor(request.user) and not request.user.is_verified()):
            return redirect(f"{reverse('staff_two_factor')}?next={quote(path)}")
        return self.get_response(request)


class TokenForm(forms.Form):
    token = forms.CharField(label="Code from your authenticator app", min_length=6,
                            max_length=8, strip=True,
                            widget=forms.TextInput(attrs={"autocomplete": "one-time-code",
                                                          "inputmode": "numeric"}))


def _device_for(user: Any) -> tuple[TOTPDevice, bool]:
    """The user's confirmed device, or the one being enrolled (made on the first visit)."""
    confirmed = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if confirmed:
        return confirmed, True
    device, _ = TOTPDevice.objects.get_or_create(user=user, confirmed=False,
                                                 defaults={"name": "authenticator app"})
    return device, False


@login_required
def two_factor(request: HttpRequest) -> HttpResponse:
    """Enrol an authenticator app (first time) or enter a code; then on to `next`."""
    if not request.user.is_staff:
        return HttpResponseForbidden("The second factor is for staff accounts.")
    device, enrolled = _device_for(request.user)
    form = TokenForm(request.POST or None)
    if form.is_valid():
        if device.verify_token(form.cleaned_data["token"]):
            if not enrolled:
                device.confirmed = True
                device.save(update_fields=["confirmed"])
            otp_login(request, device)
            target = request.GET.get("next", "")
            if not url_has_allowed_host_and_scheme(target, {request.get_host()},
                                                   require_https=request.is_secure()):
                target = reverse("admin:index")
            return redirect(target)
        form.add_error("token", "That code is not right, or it has expired. Try the next one.")
    return render(request, "accounts/two_factor.html", {
        "form": form, "enrolled": enrolled,
        "secret": None if enrolled else b32encode(device.bin_key).decode(),
        "otpauth_url": None if enrolled else device.config_url,
    }, status=400 if form.errors else 200)
