"""Accessibility of every page a person sees, with axe-core, in the light and the dark theme.

No serious or critical violation on the landing page, the chat page (searching, in a
conversation, in a call), history, settings, export and decisions pages. The call check runs on
a phone and also shows the partner's camera-off and muted states (the `media_state` extension).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from browser import (  # noqa: F401 - `call_browser` is a fixture
    PHONE_CONTEXT,
    call_browser,
    guest_page,
    member_page,
    new_person,
    screenshot,
    start,
)
from kept import keep, make_user
from playwright.sync_api import Page, expect

# Playwright's sync API runs an event loop in this thread; the ORM is not used meanwhile.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.shared_server]

SHOTS = Path("/tmp/shots")
SEVERE = {"serious", "critical"}


def severe_violations(page: Page, axe: Axe) -> list[str]:
    """Both themes: the serious and critical axe violations on the page as it is now."""
    found = []
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        for violation in axe.run(page).response["violations"]:
            if violation["impact"] in SEVERE:
                targets = [node["target"] for node in violation["nodes"]][:5]
                found.append(f"{scheme}: {violation['id']} ({violation['impact']}): "
                             f"{violation['help']} at {targets}")
    page.emulate_media(color_scheme="light")
    return found


def test_landing_history_settings_export_and_decisions(call_browser, start_server):  # noqa: F811
    site = start_server()
    axe = Axe()
    visitor = new_person(call_browser)
    visitor.goto(site.url + "/")
    problems = severe_violations(visitor, axe)
    visitor.goto(site.url + "/rules/")
    problems += severe_violations(visitor, axe)

    member = make_user("Reader5")
    keep(member, ["hello", "שלום, מה שלומך?", "a filtered **** line"])
    page = member_page(call_browser, site.url, "Reader5", "x-pass-123")
    for path in ("/", "/history/", "/account/settings/", "/account/export/",
                 "/moderation/decisions/", "/terms/", "/privacy/"):
        page.goto(site.url + path)
        problems += [f"{path} {problem}" for problem in severe_violations(page, axe)]
    # The HTML export is a download: checked as the document it is.
    export = page.request.get(site.url + "/account/export/?format=html")
    page.set_content(export.text())
    problems += [f"HTML export {problem}" for problem in severe_violations(page, axe)]
    assert problems == []


def test_chat_page_searching_and_in_a_conversation(call_browser, start_server):  # noqa: F811
    site = start_server()
    axe = Axe()
    alice, bob = guest_page(call_browser, site.url), guest_page(call_browser, site.url)
    problems = [f"idle {p}" for p in severe_violations(alice, axe)]
    start(alice, ["owls"])
    expect(alice.locator("#status")).to_have_text("Looking for someone who likes owls…")
    problems += [f"searching {p}" for p in severe_violations(alice, axe)]
    start(bob, ["owls"])
    # Each types once their own page says they are chatting (bob's `matched` may come later
    # than alice's), and alice answers what she has read.
    for page in (alice, bob):
        expect(page.locator("#status")).to_have_text(
            "Chatting with a stranger — you both like owls")
    bob.keyboard.type("hello owl")
    bob.keyboard.press("Enter")
    expect(alice.locator("#transcript .line.theirs .text")).to_have_text("hello owl")
    alice.keyboard.type("שלום")
    alice.keyboard.press("Enter")
    expect(alice.locator("#transcript .line.mine:not(.pending) .text")).to_have_text("שלום")
    # What a screen reader hears: who said it, then the line.
    heard = alice.locator("#transcript .line").all_text_contents()
    assert heard[0].startswith("Stranger: hello owl") and heard[1].startswith("You: שלום")
    assert alice.locator("#transcript .line .text").first.get_attribute("dir") == "auto"
    problems += [f"chatting {p}" for p in severe_violations(alice, axe)]
    bob.click("#next")
    expect(alice.locator("#next")).to_have_text("New chat")
    problems += [f"ended {p}" for p in severe_violations(alice, axe)]
    assert problems == []


def test_a_call_on_a_phone_says_what_the_partner_turned_off(call_browser, start_server):  # noqa: F811
    site = start_server()
    phone = guest_page(call_browser, site.url, **PHONE_CONTEXT)
    laptop = guest_page(call_browser, site.url)
    start(phone, ["storms"], mode="video")
    start(laptop, ["storms"], mode="video")
    expect(phone.locator("#call-state")).to_have_text("Video call connected", timeout=30_000)
    expect(laptop.locator("#call-state")).to_have_text("Video call connected", timeout=30_000)
    expect(phone.locator("#remote-muted")).to_be_hidden()

    laptop.click("#camera")
    laptop.click("#mute")
    expect(phone.locator("#remote-camera-off")).to_have_text("Stranger's camera is off")
    expect(phone.locator("#remote-muted")).to_have_text("Stranger is muted")
    for selector in ("#message", "#next", "#mute", "#camera", "#remote-video"):
        box = phone.locator(selector).bounding_box()
        assert box and box["y"] >= 0 and box["y"] + box["height"] <= 844, selector
    screenshot(phone, str(SHOTS / "phone-video-call.png"))
    assert severe_violations(phone, Axe()) == []

    laptop.click("#camera")
    expect(phone.locator("#remote-camera-off")).to_be_hidden()
    expect(phone.locator("#remote-muted")).to_be_visible()

    # Next ends the call: the labels say so instead of "connected" over a black box.
    phone.click("#next")
    expect(phone.locator("#call-state")).not_to_have_text("Video call connected")
    expect(laptop.locator("#call-state")).not_to_have_text("Video call connected")
