"""Driving the site's pages with Debian's chromium through Playwright (sync API).

Shared by the tests/test_*_browser.py files. Each browser context is one person: its own
cookies, so its own guest account, and a test's contexts are closed after it. One chromium (per
set of flags) serves the browser tests of a pytest(-xdist) worker; every page it opens reports
Content-Security-Policy violations and script errors, and a test during which any happened
fails (at its teardown) with the messages.

Playwright's sync API keeps an event loop in the thread while it runs, which the async tests
and Django's async-unsafe check would trip over; the browser files start first (conftest.py),
so each worker runs its browser files one after the other, and the chromium is stopped when the
worker moves on to a file without browser tests (or at the end of the session).
"""
from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

CHROMIUM = "/usr/bin/chromium"
# Chromium heeds only the last --disable-features it is given, so ours repeats the features
# Playwright (1.65) disables with its own flag, then adds what a test page never uses: the
# omnibox pop-ups (headless chromium opens a window per page, and each window preloaded its
# address bar's pop-ups, chrome://omnibox-popup.top-chrome, two WebUI pages, into a renderer
# of their own: 0.45 s of CPU per page the tests open, nearly half of all the renderers'
# CPU); the spare renderer started ahead of the next page (it belongs to the last page's
# browser context, and each person is a new context, so most were started for nothing); and
# Translate, the page's language detection after each load.
PLAYWRIGHT_DISABLED_FEATURES = (
    "AvoidUnnecessaryBeforeUnloadCheckSync", "DestroyProfileOnBrowserClose", "HttpsUpgrades",
    "HttpsFirstBalancedModeAutoEnable", "LensOverlay", "MediaRouter", "PaintHolding",
    "ThirdPartyStoragePartitioning", "AvoidCorsURLLoaderRestartOnRedirect",
    "TcpPortRandomizationWin", "OptimizationHints", "NetworkTimeServiceQuerying", "AimEnabled",
    "PreconnectToSearch")
UNUSED_FEATURES = ("WebUIOmniboxPopup", "WebUIOmniboxAimPopup", "WebUIOmniboxFullPopup",
                   "SpareRendererForSitePerProcess", "Translate")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync",
                  "--disable-features=" + ",".join(PLAYWRIGHT_DISABLED_FEATURES + UNUSED_FEATURES)]
CALL_FLAGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
              "--allow-loopback-in-peer-connection"]
# The fake camera films a small, slow picture (a file written at start, below) instead of
# chromium's own 1280x720 one that the call page asks for: both sides encode and decode it in
# software, and a test only needs frames to arrive.
CAMERA = {"width": 160, "height": 120, "fps": 10, "frames": 10}
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
PHONE_CONTEXT = {"viewport": PHONE, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
# What the browser itself logs about the network (a socket a test cut, a 404 a test asked for)
# is not the page's fault; everything else logged as an error is.
NETWORK_NOISE = ("Failed to load resource", "WebSocket connection to")
CHROMIUMS = pytest.StashKey["Chromiums"]()


class CheckedBrowser:
    """A chromium whose contexts collect CSP violations, uncaught errors and console errors."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.problems: list[str] = []
        self.contexts: list[BrowserContext] = []

    def new_context(self, **options: Any) -> BrowserContext:
        context = self.browser.new_context(**options)
        context.on("console", self._console)
        context.on("weberror", lambda error: self.problems.append(f"uncaught: {error.error}"))
        self.contexts.append(context)
        return context

    def new_page(self, **options: Any) -> Page:
        return self.new_context(**options).new_page()

    def _console(self, message: ConsoleMessage) -> None:
        text = message.text
        if "Content Security Policy" in text or (
                message.type == "error" and not text.startswith(NETWORK_NOISE)):
            self.problems.append(f"console {message.type}: {text} ({message.location.get('url')})")

    def end_test(self) -> list[str]:
        """Close the test's contexts; the problems seen during the test."""
        for context in self.contexts:
            try:
                context.close()
            except Exception:  # noqa: BLE001 - a context the test closed itself
                pass
        self.contexts.clear()
        problems, self.problems = self.problems, []
        return problems

    def __getattr__(self, name: str) -> Any:
        return getattr(self.browser, name)


class Chromiums:
    """The worker's Playwright and its chromium processes, by flags; started when a browser
    test first asks, stopped by `stop`."""

    def __init__(self) -> None:
        self.playwright: Playwright | None = None
        self.browsers: dict[tuple[str, ...], CheckedBrowser] = {}
        self.files: tempfile.TemporaryDirectory[str] | None = None

    def get(self, flags: list[str]) -> CheckedBrowser:
        if self.playwright is None:
            self.playwright = sync_playwright().start()
        key = tuple(flags)
        if key not in self.browsers:
            self.browsers[key] = CheckedBrowser(
                self.playwright.chromium.launch(executable_path=CHROMIUM, args=flags))
        return self.browsers[key]

    def camera(self) -> Path:
        """The fake camera's film, written once for the worker's chromiums."""
        if self.files is None:
            self.files = tempfile.TemporaryDirectory(prefix="chromium-camera-")
        path = Path(self.files.name) / "camera.y4m"
        if not path.exists():
            write_film(path, **CAMERA)
        return path

    def stop(self) -> None:
        browsers, self.browsers = self.browsers, {}
        for checked_browser in browsers.values():
            checked_browser.browser.close()
        if self.playwright is not None:
            self.playwright.stop()
            self.playwright = None
        if self.files is not None:
            self.files.cleanup()
            self.files = None


def write_film(path: Path, width: int, height: int, fps: int, frames: int) -> None:
    """A looping YUV4MPEG2 film for chromium's fake camera: a white bar that crosses a grey
    picture, so that each frame differs from the one before (a still picture is encoded
    as nearly nothing after the first frame)."""
    bar = width // frames
    with path.open("wb") as film:
        film.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for n in range(frames):
            row = bytearray(b"\x60" * width)
            row[n * bar:(n + 1) * bar] = b"\xeb" * bar
            film.write(b"FRAME\n" + bytes(row) * height)
            film.write(b"\x80" * (width * height // 2))  # both chroma planes: no colour


def chromiums(config: pytest.Config) -> Chromiums:
    if CHROMIUMS not in config.stash:
        config.stash[CHROMIUMS] = Chromiums()
        config.add_cleanup(config.stash[CHROMIUMS].stop)
    return config.stash[CHROMIUMS]


def stop_chromiums(config: pytest.Config) -> None:
    """Stop the worker's chromium, if it runs (conftest.py: before a test without browser)."""
    if CHROMIUMS in config.stash:
        config.stash[CHROMIUMS].stop()


def worker_browser(request: pytest.FixtureRequest, flags: list[str]) -> CheckedBrowser:
    """The chromium (with these flags) shared by this worker's browser tests."""
    return chromiums(request.config).get(flags)


def checked(request: pytest.FixtureRequest, flags: list[str]) -> Iterator[CheckedBrowser]:
    chromium = worker_browser(request, flags)
    chromium.end_test()
    yield chromium
    problems = chromium.end_test()
    if problems:
        pytest.fail("the pages reported errors:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture
def browser(request: pytest.FixtureRequest) -> Iterator[CheckedBrowser]:
    yield from checked(request, CHROMIUM_FLAGS)


@pytest.fixture
def call_browser(request: pytest.FixtureRequest) -> Iterator[CheckedBrowser]:
    film = chromiums(request.config).camera()
    yield from checked(request, CHROMIUM_FLAGS + CALL_FLAGS
                       + [f"--use-file-for-fake-video-capture={film}"])


def new_person(browser: Browser, viewport: dict[str, int] = LAPTOP, **options: Any) -> Page:
    context = browser.new_context(**({"viewport": viewport} | options))
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.on("dialog", lambda dialog: pytest.fail(f"the page opened a dialog: {dialog.message}"))
    return page


def guest_page(browser: Browser, site_url: str, viewport: dict[str, int] = LAPTOP,
               **options: Any) -> Page:
    """A new person who clicks "Chat as a guest" (accepting the rules) on a live chat page."""
    page = new_person(browser, viewport, **options)
    page.goto(site_url + "/")
    page.click("#guest-button")
    page.wait_for_url("**/chat/")
    expect(page.locator("#start")).to_be_enabled()  # the socket is open
    return page


def screenshot(page: Page, path: str, **options: Any) -> None:
    """A picture of the page for a person to look at, taken only with TEST_SCREENSHOTS=true:
    no test reads one back, and each cost chromium and Playwright 0.1 s of CPU (a PNG of the
    page, base64 through the driver)."""
    if os.environ.get("TEST_SCREENSHOTS", "").lower() in ("1", "true", "yes"):
        page.screenshot(path=path, **options)


def handle_of(page: Page) -> str:
    return page.locator(".topbar .me").inner_text().split()[0]


def start(page: Page, interests: list[str], mode: str = "text") -> None:
    for interest in interests:
        page.fill("#interest-input", interest)
        page.press("#interest-input", "Enter")
    page.check(f"input[name=mode][value={mode}]", force=True)
    page.click("#start")


def expect_connected(page: Page, partner: str, common: str) -> None:
    """Connected; the page calls the partner "a stranger" everywhere, never by handle."""
    expect(page.locator("#status")).to_have_text(
        f"Chatting with a stranger — you both like {common}")


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
                viewport: dict[str, int] = LAPTOP, **options: Any) -> Page:
    """A person with a full account who logs in through the login page."""
    page = new_person(browser, viewport, **options)
    page.goto(site_url + "/accounts/login/?next=/chat/")
    page.fill("input[name=login]", username)
    page.fill("input[name=password]", password)
    page.click("form button[type=submit]")
    page.wait_for_url("**/chat/")
    accept_rules(page)
    expect(page.locator("#start")).to_be_enabled()
    return page


def accept_rules(page: Page) -> None:
    """An account made before the rules accepts them with the chat page's one click."""
    if page.locator("#accept-rules").count():
        page.click("#accept-rules")
        page.wait_for_url("**/chat/")
        expect(page.locator("#accept-rules")).to_have_count(0)
