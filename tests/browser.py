"""Driving the site's pages with Debian's chromium through Playwright (sync API).

Shared by the tests/test_*_browser.py files. Each browser context is one person: its own
cookies, so its own guest account.
"""
from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"]
CALL_FLAGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
              "--allow-loopback-in-peer-connection"]
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def launch(flags: list[str]) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=flags)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser() -> Iterator[Browser]:
    yield from launch(CHROMIUM_FLAGS)


@pytest.fixture
def call_browser() -> Iterator[Browser]:
    yield from launch(CHROMIUM_FLAGS + CALL_FLAGS)


def guest_page(browser: Browser, site_url: str, viewport: dict[str, int] = LAPTOP) -> Page:
    """A new person who clicks "Chat as a guest" and lands on a live chat page."""
    context = browser.new_context(viewport=viewport)
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.on("dialog", lambda dialog: pytest.fail(f"the page opened a dialog: {dialog.message}"))
    page.goto(site_url + "/")
    page.click("#guest-button")
    page.wait_for_url("**/chat/")
    expect(page.locator("#start")).to_be_enabled()  # the socket is open
    return page


def handle_of(page: Page) -> str:
    return page.locator(".topbar .me").inner_text().split()[0]


def start(page: Page, interests: list[str], mode: str = "text") -> None:
    for interest in interests:
        page.fill("#interest-input", interest)
        page.press("#interest-input", "Enter")
    page.check(f"input[name=mode][value={mode}]", force=True)
    page.click("#start")


def expect_connected(page: Page, partner: str, common: str) -> None:
    expect(page.locator("#status")).to_have_text(
        f"Connected to {partner} — you both like {common}")


def say(page: Page, text: str) -> None:
    page.fill("#message", text)
    page.press("#message", "Enter")


def transcript(page: Page) -> list[tuple[str, str]]:
    """The chat lines on the page, in order, as (who, text)."""
    lines = page.eval_on_selector_all(
        "#transcript .line",
        "items => items.map(i => [i.classList.contains('mine') ? 'me' : 'partner',"
        " i.querySelector('.text').textContent])")
    return [(who, text) for who, text in lines]


def expect_line(page: Page, who: str, text: str) -> None:
    side = "mine" if who == "me" else "theirs"
    expect(page.locator(f"#transcript .line.{side}:not(.pending) .text",
                        has_text=re.compile("^" + re.escape(text) + "$"))).to_have_count(1)


def member_page(browser: Browser, site_url: str, username: str, password: str,
                viewport: dict[str, int] = LAPTOP) -> Page:
    """A person with a full account who logs in through the login page."""
    context = browser.new_context(viewport=viewport)
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.goto(site_url + "/accounts/login/?next=/chat/")
    page.fill("input[name=login]", username)
    page.fill("input[name=password]", password)
    page.click("form button[type=submit]")
    page.wait_for_url("**/chat/")
    expect(page.locator("#start")).to_be_enabled()
    return page
