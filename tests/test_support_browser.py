"""The privacy page says what is kept where and for how long, and someone who says they think
of hurting themselves is quietly offered help lines that only they see (daphne, chromium),
on a phone and a laptop."""
from __future__ import annotations

import os

import pytest
from browser import (  # noqa: F401 - `browser` is a fixture
    LAPTOP,
    PHONE,
    PHONE_CONTEXT,
    browser,
    expect_line,
    guest_page,
    new_person,
    say,
    screenshot,
    start,
)
from playwright.sync_api import expect

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.shared_server]

VIEWPORTS = {"phone": (PHONE, PHONE_CONTEXT), "laptop": (LAPTOP, {})}


@pytest.mark.parametrize("size", VIEWPORTS)
def test_privacy_page_says_what_is_kept_where_and_how_long(browser, start_server,  # noqa: F811
                                                            size: str) -> None:
    site = start_server(ANALYSIS_PENDING_TTL_SECONDS="1800")
    viewport, options = VIEWPORTS[size]
    page = new_person(browser, viewport, **{k: v for k, v in options.items()
                                            if k != "viewport"})
    page.goto(site.url + "/privacy/")
    text = page.locator("article").inner_text()
    assert "at most 30 minutes" in text  # from ANALYSIS_PENDING_TTL_SECONDS
    assert "encrypted" in text and "never written to the server's logs" in text
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport["width"]  # nothing overflows sideways
    screenshot(page, f"/tmp/privacy-{size}.png", full_page=True)
    page.click("footer >> text=Privacy")
    expect(page).to_have_url(site.url + "/privacy/")


@pytest.mark.parametrize("size", VIEWPORTS)
def test_help_is_offered_to_the_speaker_only(browser, start_server, size: str) -> None:  # noqa: F811
    site = start_server()
    viewport, options = VIEWPORTS[size]
    extra = {k: v for k, v in options.items() if k != "viewport"}
    alice = guest_page(browser, site.url, viewport, **extra)
    bob = guest_page(browser, site.url)
    start(alice, ["tea"])
    start(bob, ["tea"])
    expect(alice.locator("#message")).to_be_enabled(timeout=20_000)
    expect(bob.locator("#message")).to_be_enabled(timeout=20_000)
    say(alice, "honestly i want to die")
    expect_line(bob, "them", "honestly i want to die")
    offer = alice.locator(".notice.support")
    expect(offer).to_be_visible()
    expect(offer.get_by_role("link", name="Find a Helpline (international)")).to_have_attribute(
        "href", "https://findahelpline.com")
    screenshot(alice, f"/tmp/support-{size}.png")
    expect(bob.locator(".notice.support")).to_have_count(0)
    offer.get_by_role("button", name="Close").click()
    expect(offer).to_have_count(0)
