"""The contacts page and a letter thread in chromium, on a phone (390x844, touch) and a laptop:
nothing overflows sideways, every action is reachable, and a letter written on the page shows
up in the thread (daphne, PostgreSQL, Redis)."""
from __future__ import annotations

import os

import pytest
from browser import LAPTOP, PHONE, browser, new_person, screenshot  # noqa: F401 - `browser` is a fixture
from playwright.sync_api import Page, expect

from accounts.models import User
from chat.contacts.models import Letter
from chatsite.plumbing.crypto import encrypt_text
from tests.keeping import contacts, full_user, session_of

# Playwright's sync API runs an event loop in this thread; the ORM is not used meanwhile.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]

SCREENS = {"phone": (PHONE, {"is_mobile": True, "has_touch": True, "device_scale_factor": 2}),
           "laptop": (LAPTOP, {})}


def signed_in(browser, site_url: str, user: User, screen: str) -> Page:  # noqa: ANN001, F811
    viewport, options = SCREENS[screen]
    page = new_person(browser, viewport, **options)
    page.context.add_cookies([{"name": "sessionid", "value": session_of(user),
                               "url": site_url}])
    return page


def write_letter(sender: User, contact_id: str, text: str) -> None:
    # Stored as the service stores it; the service itself would reach the live store through
    # an event loop, and Playwright's runs in this thread.
    Letter.objects.create(contact_id=contact_id, sender=sender, body=encrypt_text(text))


def assert_fits(page: Page) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the screen"


@pytest.mark.parametrize("screen", ["phone", "laptop"])
def test_contacts_and_thread_fit_the_screen_and_a_letter_shows_up(
        browser, start_server, redis_url: str, screen: str) -> None:  # noqa: ANN001, F811
    server = start_server(redis_url)
    me = full_user("Marisol")
    friend, quiet = full_user("Kenji"), full_user("Ottoline", shares_presence=False)
    with_friend, _ = contacts(me, friend), contacts(me, quiet)
    write_letter(friend, with_friend, "Back from my trip! Next Spanish session on Sunday?")
    write_letter(me, with_friend, "¡Claro! Sunday 10:00 UTC works for me.")
    write_letter(friend, with_friend, "Great, see you then 👋")
    page = signed_in(browser, server.url, me, screen)

    page.goto(server.url + "/contacts/")
    rows = page.locator("#contacts .contact")
    expect(rows).to_have_count(2)
    friend_row = rows.filter(has_text=friend.username)
    expect(friend_row.locator(".presence")).to_have_text("away")
    expect(friend_row.locator(".unread")).to_have_text("2 new")
    expect(rows.filter(has_text=quiet.username).locator(".presence")).to_have_count(0)
    for mode in ("Text", "Voice", "Video"):
        expect(friend_row.get_by_role("link", name=mode)).to_be_visible()
    for action in ("Write", "Report", "Remove", "Block"):
        expect(friend_row.get_by_text(action, exact=True)).to_be_visible()
    assert_fits(page)
    screenshot(page, f"/tmp/contacts-{screen}.png", full_page=True)

    friend_row.get_by_role("link", name="Write").click()
    page.wait_for_url(f"**/contacts/{with_friend}/")
    expect(page.locator("#letters .line")).to_have_count(3)
    expect(page.locator("#letters .line.mine .text")).to_have_text(
        "¡Claro! Sunday 10:00 UTC works for me.")
    page.fill("#letter-text", "Perfecto, hasta el domingo.")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#letters .line")).to_have_count(4)
    expect(page.locator("#letters .line.mine").last).to_contain_text("hasta el domingo")
    assert_fits(page)
    screenshot(page, f"/tmp/thread-{screen}.png", full_page=True)
    page.goto(server.url + "/contacts/")
    expect(page.locator("#contacts .contact").filter(has_text=friend.username)
           .locator(".unread")).to_have_count(0)
    page.context.close()
