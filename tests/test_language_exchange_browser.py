"""Language exchange on the page (PROTOCOL.md section 3): "I want to practise" beside "I speak",
and what a tandem match says, at phone and laptop size."""
from __future__ import annotations

import os
from typing import Any

import pytest
from browser import (  # noqa: F401 - `browser` is a fixture
    LAPTOP,
    PHONE,
    PHONE_CONTEXT,
    browser,
    guest_page,
    screenshot,
    start,
)
from playwright.sync_api import expect


@pytest.mark.browser
@pytest.mark.e2e
@pytest.mark.parametrize("viewport", ["phone", "laptop"])
def test_two_learners_meet_as_a_tandem_on_the_page(browser: Any, start_server: Any,  # noqa: F811
                                                   viewport: str) -> None:
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's loop runs in this thread
    site = start_server()
    options = PHONE_CONTEXT if viewport == "phone" else {"viewport": LAPTOP}
    size = PHONE if viewport == "phone" else LAPTOP
    ana, ben = (guest_page(browser, site.url, **options) for _ in range(2))
    for page, speaks, practises in ((ana, "es", "en"), (ben, "en", "es")):
        expect(page.get_by_label("I speak")).to_be_visible()
        page.get_by_label("I speak").select_option(speaks)
        page.get_by_label("I want to practise").select_option(practises)
        screenshot(page, f"/tmp/h5-setup-{viewport}.png")
        start(page, [])
    expect(ben.locator("#transcript")).to_contain_text(
        "You practise Spanish with a Spanish speaker who practises English.", timeout=20_000)
    expect(ana.locator("#transcript")).to_contain_text(
        "You practise English with an English speaker who practises Spanish.", timeout=20_000)
    screenshot(ben, f"/tmp/h5-tandem-{viewport}.png")
    assert size["width"] == ben.viewport_size["width"]
