"""The chat page as people use it: on a phone and a laptop, typing at once, in two tabs.

Two people in two browser contexts against a real daphne; one chromium per module.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from browser import (  # noqa: F401 - `browser` is a fixture
    LAPTOP,
    PHONE_CONTEXT,
    browser,
    expect_line,
    guest_page,
    member_page,
    new_person,
    say,
    screenshot,
    start,
    transcript,
)
from playwright.sync_api import Page, expect

# Playwright's sync API runs an event loop in this thread; the ORM is not used meanwhile.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.shared_server]

SHOTS = Path("/tmp/shots")
# Forty lines in a row from one person: more than the default 20 per 10 s allows.
ROOMY = {"MESSAGE_RATE_LIMIT": "100/10s", "LAST_PARTNER_SECONDS": "3"}


def in_viewport(page: Page, selector: str) -> bool:
    return page.eval_on_selector(selector, """e => {
        const r = e.getBoundingClientRect();
        return r.width > 0 && r.top >= 0 && r.bottom <= window.innerHeight + 0.5
            && r.left >= 0 && r.right <= window.innerWidth + 0.5; }""")


def newest_line_visible(page: Page) -> bool:
    return page.evaluate("""() => {
        const box = document.getElementById('transcript').getBoundingClientRect();
        const lines = document.querySelectorAll('#transcript .line');
        const r = lines[lines.length - 1].getBoundingClientRect();
        return r.top >= box.top - 0.5 && r.bottom <= box.bottom + 0.5
            && r.bottom <= window.innerHeight; }""")


def expect_shell_fits(page: Page) -> None:
    assert page.evaluate("document.scrollingElement.scrollHeight <= window.innerHeight + 1")
    assert in_viewport(page, "#message"), "the message box is off screen"
    assert in_viewport(page, "#next"), "Next is off screen"
    assert in_viewport(page, "#report") and in_viewport(page, "#block")


@pytest.mark.parametrize("device", ["phone", "laptop"])
def test_forty_lines_keep_the_composer_next_and_newest_line_in_view(browser, start_server,  # noqa: F811
                                                                     device):
    site = start_server(**ROOMY)
    options = PHONE_CONTEXT if device == "phone" else {"viewport": LAPTOP}
    reader = guest_page(browser, site.url, **options)
    writer = guest_page(browser, site.url)
    start(reader, ["tides"])
    expect(reader.locator("#message")).to_be_focused()  # Start hands focus to the message box
    start(writer, ["tides"])
    expect(reader.locator("#status")).to_have_text("Chatting with a stranger — you both like tides")

    # Typing at once after the match, without a click, reaches the partner.
    expect(reader.locator("#message")).to_be_focused()
    reader.keyboard.type("hi there")
    reader.keyboard.press("Enter")
    expect_line(writer, "partner", "hi there")

    for n in range(1, 41):
        say(writer, f"line {n}" + " words" * (n % 7))
    expect_line(reader, "partner", "line 40" + " words" * 5)
    expect_shell_fits(reader)
    assert newest_line_visible(reader), "the newest line is not scrolled into view"
    if device == "phone":
        screenshot(reader, str(SHOTS / "phone-chat-40-lines.png"))

    # Scrolled up to read: a new line does not pull the view down; a pill says it came.
    reader.eval_on_selector("#transcript", "t => { t.scrollTop = 0; }")
    reader.wait_for_timeout(100)  # the scroll event
    say(writer, "while you were reading")
    expect(reader.locator("#new-lines")).to_have_text("1 new message ↓")
    assert not newest_line_visible(reader)
    reader.click("#new-lines")
    expect(reader.locator("#new-lines")).to_be_hidden()
    assert newest_line_visible(reader)
    expect_shell_fits(reader)

    # The partner leaves: "New chat" takes Next's place, with the same choices.
    writer.click("#next")
    expect(reader.locator("#status")).to_have_text("Stranger left the conversation.")
    expect(reader.locator("#next")).to_have_text("New chat")
    assert in_viewport(reader, "#next")
    reader.click("#next")
    # Alone with the person just left: the page says why nobody is found, and for how long.
    expect(reader.locator("#search-info")).to_contain_text(
        "You are not matched again with the person you just left for 3 s.")
    expect(reader.locator("#search-info")).to_contain_text("looking for a text chat")
    expect(reader.locator("#status")).to_have_text(
        "Chatting with a stranger — you both like tides", timeout=15_000)
    expect(reader.locator("#message")).to_be_focused()


def test_a_second_tab_takes_the_conversation_over(browser, start_server):  # noqa: F811
    site = start_server()
    alice, bob = guest_page(browser, site.url), guest_page(browser, site.url)
    start(alice, ["kites"])
    start(bob, ["kites"])
    say(alice, "before the second tab")
    expect_line(bob, "partner", "before the second tab")

    second = alice.context.new_page()
    second.goto(site.url + "/chat/")
    expect(second.locator("#status")).to_have_text("Chatting with a stranger — you both like kites")
    expect_line(second, "me", "before the second tab")
    expect(alice.locator("#status")).to_have_text("This chat moved to another tab")

    say(bob, "still there?")
    expect_line(second, "partner", "still there?")
    say(second, "yes, in my new tab")
    expect_line(bob, "partner", "yes, in my new tab")
    # The partner saw at most a reconnecting notice: the conversation never ended for them.
    expect(bob.locator("#status")).to_have_text("Chatting with a stranger — you both like kites")
    assert [who for who, _ in transcript(bob)] == ["partner", "me", "partner"]
    expect(bob.locator("#transcript .system", has_text="left")).to_have_count(0)
    expect(bob.locator("#notices")).not_to_contain_text("left")


def test_a_signed_in_person_is_offered_to_continue_and_asked_before_a_new_guest(
        browser, start_server):  # noqa: F811
    from accounts.models import User

    site = start_server()
    User.objects.create_user(username="Keeper7", password="keeper-pass-123")
    member = member_page(browser, site.url, "Keeper7", "keeper-pass-123", **PHONE_CONTEXT)
    member.goto(site.url + "/")
    expect(member.locator("#continue-button")).to_have_text("Continue as Keeper7")
    member.click("#new-guest-link")
    expect(member.locator("#switch-guest")).to_contain_text("You will be logged out of Keeper7")
    member.click("text=Keep Keeper7")
    member.click("#continue-button")
    member.wait_for_url("**/chat/")
    expect(member.locator(".topbar .me")).to_contain_text("Keeper7")

    guest = guest_page(browser, site.url)
    handle = guest.locator(".topbar .me").inner_text().split()[0]
    guest.goto(site.url + "/")
    expect(guest.locator("#continue-button")).to_have_text(f"Continue as {handle}")


def test_an_account_without_the_rules_accepts_them_in_one_click(browser, start_server):  # noqa: F811
    from accounts.models import User

    site = start_server()
    user = User.objects.create_user(username="Older1", password="older-pass-123")
    page = new_person(browser, **PHONE_CONTEXT)
    page.goto(site.url + "/accounts/login/?next=/chat/")
    page.fill("input[name=login]", "Older1")
    page.fill("input[name=password]", "older-pass-123")
    page.click("form button[type=submit]")
    page.wait_for_url("**/chat/")
    expect(page.locator("#rules-prompt")).to_be_visible()
    expect(page.locator("#start")).to_be_disabled()
    screenshot(page, str(SHOTS / "phone-rules-prompt.png"))
    page.click("#accept-rules")
    expect(page.locator("#rules-prompt")).to_have_count(0)
    expect(page.locator("#start")).to_be_enabled()
    user.refresh_from_db()
    assert user.rules_accepted_at is not None


def test_a_hidden_tab_counts_new_lines_in_its_title_and_the_sound_choice_is_kept(
        browser, start_server):  # noqa: F811
    site = start_server()
    alice, bob = guest_page(browser, site.url), guest_page(browser, site.url)
    # Keyboard only: an interest, Enter to add it, Enter again to start.
    alice.focus("#interest-input")
    alice.keyboard.type("moths")
    alice.keyboard.press("Enter")
    alice.keyboard.press("Enter")
    expect(alice.locator("#message")).to_be_focused()
    start(bob, ["moths"])
    expect(alice.locator("#status")).to_have_text("Chatting with a stranger — you both like moths")
    title = alice.title()

    # The person switches to another tab.
    alice.evaluate("""() => {
        Object.defineProperty(document, 'hidden', {value: true, configurable: true});
        document.dispatchEvent(new Event('visibilitychange')); }""")
    say(bob, "are you there?")
    say(bob, "hello?")
    expect(alice).to_have_title(f"(2) {title}")
    alice.evaluate("""() => {
        Object.defineProperty(document, 'hidden', {value: false, configurable: true});
        document.dispatchEvent(new Event('visibilitychange')); }""")
    expect(alice).to_have_title(title)

    alice.click("#next")
    expect(alice.locator("#next")).to_have_text("Stop")
    alice.click("#next")
    expect(alice.locator("#start")).to_be_enabled()
    expect(alice.locator("#sound")).to_have_attribute("aria-pressed", "true")
    alice.click("#sound")
    expect(alice.locator("#sound")).to_have_text("Sound off")
    alice.reload()
    expect(alice.locator("#sound")).to_have_attribute("aria-pressed", "false")


def test_report_and_block_in_one_go_on_a_phone(browser, start_server):  # noqa: F811
    from chat.models import Block
    from moderation.models import Report

    site = start_server()
    alice = guest_page(browser, site.url, **PHONE_CONTEXT)
    bob = guest_page(browser, site.url)
    start(alice, ["wasps"])
    start(bob, ["wasps"])
    say(bob, "something nasty")
    expect_line(alice, "partner", "something nasty")

    alice.click("#report")
    alice.check("#report-dialog input[value=harassment]", force=True)
    alice.click("#report-block")
    expect(alice.locator("#status")).to_have_text(
        "You blocked the stranger and left the conversation.")
    expect(alice.locator("#block")).to_have_text("Blocked")
    expect(alice.locator("#block")).to_be_disabled()
    expect(bob.locator("#status")).to_have_text("Stranger ended the conversation.")
    assert Report.objects.get().reason == "harassment"
    assert Block.objects.count() == 1
    expect(alice.locator("#next")).to_have_text("New chat")
