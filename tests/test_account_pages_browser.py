"""Signing up, logging out and logging in through the site's own pages."""
from __future__ import annotations

import os

import pytest
from browser import LAPTOP, browser  # noqa: F401 - `browser` is a fixture
from playwright.sync_api import expect

# Playwright's sync API runs an event loop in this thread; the ORM is not used meanwhile.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

PASSWORD = "violet harbour 93"


def test_signup_needs_the_adult_box_then_logs_straight_in(browser, start_server):  # noqa: F811
    site = start_server()
    page = browser.new_context(viewport=LAPTOP).new_page()
    page.goto(site.url + "/")
    page.click("text=sign up")
    page.fill("input[name=username]", "NightHeron")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.click("form.stack button[type=submit]")
    # The browser holds the form back until the box is ticked.
    expect(page.locator("input[name=adult]:invalid")).to_have_count(1)
    assert page.url.endswith("/accounts/signup/")

    page.check("input[name=adult]")
    page.click("form.stack button[type=submit]")
    page.wait_for_url("**/chat/")
    expect(page.locator(".topbar .me")).to_have_text("NightHeron")
    expect(page.locator("#keep-history")).to_be_enabled()

    page.click(".topbar button:has-text('Log out')")
    page.wait_for_url(site.url + "/")
    expect(page.locator("#guest-button")).to_be_visible()

    page.click(".topbar >> text=Log in")
    page.fill("input[name=login]", "NightHeron")
    page.fill("input[name=password]", PASSWORD)
    page.click("form.stack button[type=submit]")
    page.wait_for_url("**/chat/")
    expect(page.locator(".topbar .me")).to_have_text("NightHeron")
