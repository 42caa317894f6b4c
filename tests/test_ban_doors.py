"""One ban, every door (issue 11, finding 3): guest creation, signup, login, claim and the
socket all ask moderation.bans.door_refusal. A ban refuses new accounts from the banned
browser (its signed marker) and, for BAN_ADDRESS_HOURS only, from the banned address; people
who already had an account behind the same address keep it."""
from __future__ import annotations

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.utils import timezone

from accounts.models import User
from chat.consumers import ChatConsumer
from moderation.bans import BAN_MARKER_COOKIE, address_hash, issue_ban, marker_morsel
from moderation.models import Ban

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("postgres")]

PASSWORD = "correct horse battery staple"
BANNED_ADDRESS = "203.0.113.9"
OTHER_ADDRESS = "198.51.100.20"


@pytest.fixture(autouse=True)
def _many_guests_per_address(settings) -> None:
    settings.GUEST_RATE_LIMIT = "1000/m"  # these tests count bans, not the guest rate limit


def browser(address: str = OTHER_ADDRESS) -> Client:
    return Client(REMOTE_ADDR=address)


def new_guest(client: Client) -> int:
    return client.post("/accounts/guest/").status_code


def sign_up(client: Client, handle: str) -> int:
    return client.post("/accounts/signup/", {"username": handle, "password1": PASSWORD,
                                             "password2": PASSWORD, "adult": "on"}).status_code


def log_in(client: Client, handle: str) -> int:
    return client.post("/accounts/login/", {"login": handle, "password": PASSWORD}).status_code


def claim(client: Client) -> int:
    return client.post("/account/settings/", {"form": "claim", "new_password1": PASSWORD,
                                              "new_password2": PASSWORD,
                                              "adult": "on"}).status_code


@pytest.fixture
def banned_browser() -> Client:
    """A guest from BANNED_ADDRESS, banned; its browser has loaded the chat page since."""
    client = browser(BANNED_ADDRESS)
    assert new_guest(client) == 302
    guest = User.objects.get(is_guest=True)
    issue_ban(guest.pk, "harassment", timezone.now() + timedelta(days=7))
    assert client.get("/chat/").status_code == 200
    assert BAN_MARKER_COOKIE in client.cookies
    return client


def fresh_session(client: Client) -> Client:
    """The same browser with its session cleared (logged out), marker kept."""
    client.cookies.pop("sessionid", None)
    return client


def member_since_before_the_ban(handle: str) -> User:
    user = User.objects.create_user(username=handle, password=PASSWORD,
                                    rules_accepted_at=timezone.now())
    User.objects.filter(pk=user.pk).update(date_joined=timezone.now() - timedelta(days=30))
    user.refresh_from_db()
    return user


# ---- guest creation


def test_a_banned_browser_gets_no_new_guest_from_any_address(banned_browser) -> None:
    client = fresh_session(banned_browser)
    client.defaults["REMOTE_ADDR"] = OTHER_ADDRESS  # moved to another network
    response = client.post("/accounts/guest/")
    assert response.status_code == 403
    assert b"New accounts are paused here" in response.content
    assert User.objects.count() == 1


def test_the_banned_address_gets_no_new_guest_for_ban_address_hours(banned_browser,
                                                                    settings) -> None:
    assert new_guest(browser(BANNED_ADDRESS)) == 403
    refused = browser(BANNED_ADDRESS)
    refused.post("/accounts/guest/")
    assert BAN_MARKER_COOKIE in refused.cookies  # the refused browser is marked too
    Ban.objects.update(created_at=timezone.now() - timedelta(hours=25))
    assert new_guest(browser(BANNED_ADDRESS)) == 302  # default 24 h passed
    assert new_guest(browser(OTHER_ADDRESS)) == 302


def test_ban_address_hours_zero_turns_the_address_part_off(banned_browser, settings) -> None:
    settings.BAN_ADDRESS_HOURS = 0
    assert new_guest(browser(BANNED_ADDRESS)) == 302
    assert new_guest(fresh_session(banned_browser)) == 403  # the marker still counts


def test_a_forged_or_lifted_marker_counts_for_nothing(banned_browser) -> None:
    forged = browser()
    forged.cookies[BAN_MARKER_COOKIE] = banned_browser.cookies[BAN_MARKER_COOKIE].value + "x"
    assert new_guest(forged) == 302
    Ban.objects.update(lifted_at=timezone.now())
    client = fresh_session(banned_browser)
    client.defaults["REMOTE_ADDR"] = OTHER_ADDRESS
    assert new_guest(client) == 302


# ---- signup


def test_signup_is_refused_to_a_banned_browser_and_address(banned_browser) -> None:
    client = fresh_session(banned_browser)
    client.defaults["REMOTE_ADDR"] = OTHER_ADDRESS
    assert sign_up(client, "FreshStart") == 403
    assert sign_up(browser(BANNED_ADDRESS), "FreshStart") == 403
    assert not User.objects.filter(username="FreshStart").exists()
    assert sign_up(browser(OTHER_ADDRESS), "SomeoneElse") == 302


# ---- login


def test_an_account_made_after_the_ban_cannot_log_in_from_the_banned_browser(banned_browser
                                                                            ) -> None:
    User.objects.create_user(username="MadeElsewhere", password=PASSWORD)
    client = fresh_session(banned_browser)
    client.defaults["REMOTE_ADDR"] = OTHER_ADDRESS
    assert log_in(client, "MadeElsewhere") == 403
    assert log_in(browser(BANNED_ADDRESS), "MadeElsewhere") == 403
    assert log_in(browser(OTHER_ADDRESS), "MadeElsewhere") == 302


def test_someone_else_behind_the_same_address_keeps_their_account(banned_browser) -> None:
    """The shared-address trade-off: a school or a carrier's NAT is not locked out."""
    member_since_before_the_ban("Classmate")
    client = browser(BANNED_ADDRESS)
    assert log_in(client, "Classmate") == 302
    assert client.get("/chat/").status_code == 200


def test_the_banned_account_may_log_in_to_appeal_and_its_browser_is_marked() -> None:
    offender = User.objects.create_user(username="Offender", password=PASSWORD)
    issue_ban(offender.pk, "spam", timezone.now() + timedelta(days=1))
    client = browser()
    assert log_in(client, "Offender") == 302
    assert BAN_MARKER_COOKIE in client.cookies
    assert client.get("/moderation/decisions/").status_code == 200


# ---- claim


def test_a_banned_guest_cannot_claim_its_account(banned_browser) -> None:
    assert claim(banned_browser) == 403
    assert User.objects.get().is_guest


def test_a_guest_made_around_a_ban_cannot_claim(banned_browser, settings) -> None:
    settings.BAN_ADDRESS_HOURS = 0  # the guest got in before the marker existed
    evader = browser(BANNED_ADDRESS)
    assert new_guest(evader) == 302
    evader.cookies[BAN_MARKER_COOKIE] = banned_browser.cookies[BAN_MARKER_COOKIE].value
    assert claim(evader) == 403


# ---- the socket


async def socket_door(user: User, address: str, marker: str | None) -> tuple[dict, int]:
    communicator = WebsocketCommunicator(ChatConsumer.as_asgi(), "/ws/chat/")
    communicator.scope.update({"user": user, "client": (address, 50000),
                               "cookies": {BAN_MARKER_COOKIE: marker} if marker else {}})
    connected, _ = await communicator.connect()
    assert connected
    frame = await communicator.receive_json_from()
    closed = await communicator.receive_output() if frame["type"] == "banned" else {}
    await communicator.disconnect()
    return frame, closed.get("code", 0)


@database_sync_to_async
def evader_and_marker() -> tuple[User, str]:
    banned = User.objects.create_user(username="Banned", password=PASSWORD)
    ban = issue_ban(banned.pk, "threats", None)
    Ban.objects.filter(pk=ban.pk).update(address_hash=address_hash(BANNED_ADDRESS))
    evader = User.objects.create_user(username="Evader", password=PASSWORD,
                                      rules_accepted_at=timezone.now())
    return evader, marker_morsel(ban).value


@pytest.mark.django_db(transaction=True)
async def test_the_socket_refuses_an_account_made_around_a_ban() -> None:
    evader, marker = await evader_and_marker()
    frame, code = await socket_door(evader, OTHER_ADDRESS, marker)
    assert (frame["type"], code) == ("banned", 4003)
    frame, code = await socket_door(evader, BANNED_ADDRESS, None)
    assert (frame["type"], code) == ("banned", 4003)
    frame, _ = await socket_door(evader, OTHER_ADDRESS, None)
    assert frame["type"] == "welcome"


@pytest.mark.django_db(transaction=True)
async def test_the_socket_welcomes_an_older_account_behind_the_banned_address() -> None:
    await evader_and_marker()
    classmate = await database_sync_to_async(member_since_before_the_ban)("Classmate")
    frame, _ = await socket_door(classmate, BANNED_ADDRESS, None)
    assert frame["type"] == "welcome"
