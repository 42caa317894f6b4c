"""Staff accounts worth stealing (issue 11): lock-out after repeated failed logins on both
login pages, also behind trusted proxies, and a TOTP second factor for /admin/."""
from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("postgres")]

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _limits(settings) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    cache.clear()  # allauth's own per-handle failure limit lives in the cache


@pytest.fixture
def moderator() -> User:
    return User.objects.create_user(username="ModMia", password=PASSWORD, is_staff=True,
                                    is_superuser=True)


def site_login(client: Client, handle: str, password: str, **extra: str) -> int:
    return client.post("/accounts/login/", {"login": handle, "password": password},
                       **extra).status_code


def admin_login(client: Client, handle: str, password: str, **extra: str) -> int:
    return client.post("/admin/login/?next=/admin/",
                       {"username": handle, "password": password}, **extra).status_code


@pytest.mark.parametrize("login", [site_login, admin_login], ids=["site", "admin"])
def test_repeated_wrong_passwords_lock_the_account_out_even_with_the_right_one(
        moderator, login) -> None:
    attacker = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(2):
        assert login(attacker, "ModMia", "guess") == 200  # the form again, with an error
    assert login(attacker, "ModMia", "guess") == 429
    response = attacker.post("/accounts/login/", {"login": "modmia", "password": PASSWORD})
    assert response.status_code == 429
    assert b"Too many failed logins" in response.content
    assert "_auth_user_id" not in attacker.session
    # The lock-out is for that address: the moderator elsewhere still gets in.
    assert login(Client(REMOTE_ADDR="198.51.100.1"), "ModMia", PASSWORD) == 302


def test_both_login_pages_count_towards_one_lock_out(moderator) -> None:
    attacker = Client(REMOTE_ADDR="203.0.113.7")
    assert site_login(attacker, "ModMia", "guess") == 200
    assert admin_login(attacker, "ModMia", "guess") == 200
    assert site_login(attacker, "MODMIA", "guess") == 429


def test_behind_a_trusted_proxy_the_forwarded_client_is_locked_out(moderator,
                                                                   settings) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    attacker = Client(HTTP_X_FORWARDED_FOR="203.0.113.7", **proxy)
    for _ in range(3):
        site_login(attacker, "ModMia", "guess")
    assert site_login(attacker, "ModMia", PASSWORD) == 429
    # Another client behind the same proxy is not locked out with the attacker,
    moderator_client = Client(HTTP_X_FORWARDED_FOR="198.51.100.1", **proxy)
    assert site_login(moderator_client, "ModMia", PASSWORD) == 302
    # and the attacker cannot escape by forging an address left of the proxy's entry.
    forged = Client(HTTP_X_FORWARDED_FOR="192.0.2.50, 203.0.113.7", **proxy)
    assert site_login(forged, "ModMia", PASSWORD) == 429


def test_a_successful_login_resets_the_count(moderator) -> None:
    client = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(2):
        site_login(client, "ModMia", "typo")
    assert site_login(client, "ModMia", PASSWORD) == 302
    client.post("/accounts/logout/")
    for _ in range(2):
        assert site_login(client, "ModMia", "typo") == 200


# ---- the second factor


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def code_for(device: TOTPDevice) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


def test_without_the_setting_or_a_device_admin_needs_no_second_factor(moderator,
                                                                      settings) -> None:
    settings.STAFF_REQUIRE_2FA = False
    assert logged_in(moderator).get("/admin/").status_code == 200


def test_with_the_setting_admin_asks_staff_to_enrol_then_verify(moderator, settings) -> None:
    settings.STAFF_REQUIRE_2FA = True
    client = logged_in(moderator)
    response = client.get("/admin/moderation/report/")
    assert response.status_code == 302
    assert response["Location"] == "/account/2fa/?next=/admin/moderation/report/"
    page = client.get(response["Location"])
    assert b"Set up a second factor" in page.content
    device = TOTPDevice.objects.get(user=moderator, confirmed=False)
    assert page.context["secret"] and "otpauth://totp/" in page.context["otpauth_url"]
    right = client.post(response["Location"], {"token": code_for(device)})
    assert right.status_code == 302, right.context["form"].errors if right.context else right
    assert right["Location"] == "/admin/moderation/report/"
    assert client.get("/admin/moderation/report/").status_code == 200
    device.refresh_from_db()
    assert device.confirmed
    # A new session (another login) asks for a code again, now without enrolling.
    again = logged_in(moderator)
    assert again.get("/admin/").status_code == 302
    assert b"Enter your code" in again.get("/account/2fa/").content
    wrong = "000000" if code_for(device) != "000000" else "111111"
    assert again.post("/account/2fa/", {"token": wrong}).status_code == 400
    assert again.get("/admin/").status_code == 302


def test_staff_who_enrolled_need_the_code_even_without_the_setting(moderator,
                                                                   settings) -> None:
    settings.STAFF_REQUIRE_2FA = False
    TOTPDevice.objects.create(user=moderator, name="app", confirmed=True)
    assert logged_in(moderator).get("/admin/").status_code == 302


def test_the_admin_login_page_stays_open_and_next_cannot_leave_the_site(moderator,
                                                                       settings) -> None:
    settings.STAFF_REQUIRE_2FA = True
    assert Client().get("/admin/login/").status_code == 200
    client = logged_in(moderator)
    client.get("/account/2fa/")
    device = TOTPDevice.objects.get(user=moderator)
    response = client.post("/account/2fa/?next=https://evil.example/", {"token": code_for(device)})
    assert response["Location"] == "/admin/"


def test_users_who_are_not_staff_have_no_second_factor_page() -> None:
    user = User.objects.create_user(username="Plain", password=PASSWORD)
    assert logged_in(user).get("/account/2fa/").status_code == 403
