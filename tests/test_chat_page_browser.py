"""Two people chat as guests through the real page (daphne, chromium, PostgreSQL)."""
from __future__ import annotations

import os
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from browser import (  # noqa: F401 - `browser` is a fixture
    browser,
    expect_connected,
    expect_line,
    guest_page,
    handle_of,
    member_page,
    say,
    start,
    transcript,
)
from django.db import connections
from playwright.sync_api import expect

# Playwright's sync API runs an event loop in this thread; the ORM is not used meanwhile.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.shared_server]


def test_two_guests_meet_by_interest_and_chat_both_ways(browser, start_server):  # noqa: F811
    site = start_server()
    alice, bob = guest_page(browser, site.url), guest_page(browser, site.url)
    alice_handle, bob_handle = handle_of(alice), handle_of(bob)

    start(alice, ["Chess", "jazz"])
    expect(alice.locator("#status")).to_have_text("Looking for someone who likes chess or jazz…")
    start(bob, ["chess"])
    expect_connected(alice, bob_handle, "chess")
    expect_connected(bob, alice_handle, "chess")

    say(alice, "hello from alice")
    expect_line(bob, "partner", "hello from alice")
    expect_line(alice, "me", "hello from alice")
    say(bob, "hi alice")
    expect_line(alice, "partner", "hi alice")
    expect_line(bob, "me", "hi alice")

    markup = "<img src=x onerror=alert(1)>"
    say(bob, markup)
    expect_line(alice, "partner", markup)
    expect_line(bob, "me", markup)
    assert alice.locator("#transcript img").count() == 0

    expected = [("me", "hello from alice"), ("partner", "hi alice"), ("partner", markup)]
    assert transcript(alice) == expected
    assert transcript(bob) == [("partner" if who == "me" else "me", text)
                               for who, text in expected]

    alice.locator("#message").press_sequentially("typing some")
    expect(bob.locator("#typing")).to_have_text("Stranger is typing…")

    alice.click("#next")
    expect(bob.locator("#status")).to_have_text("Stranger left the conversation.")
    expect(alice.locator("#status")).to_have_text("Looking for someone who likes chess or jazz…")
    expect(bob.locator("#message")).to_be_disabled()


def test_guest_sees_why_history_cannot_be_kept(browser, start_server):  # noqa: F811
    page = guest_page(browser, start_server().url)

    expect(page.locator("#keep-history")).to_be_disabled()
    expect(page.locator("#keep-history-note")).to_contain_text("Guests cannot keep history")


def test_escape_twice_leaves_for_the_next_stranger(browser, start_server):  # noqa: F811
    site = start_server()
    alice, bob = guest_page(browser, site.url), guest_page(browser, site.url)
    start(alice, ["go"])
    start(bob, ["go"])
    expect_connected(bob, handle_of(alice), "go")

    bob.locator("#message").focus()
    bob.keyboard.press("Escape")
    bob.keyboard.press("Escape")

    expect(alice.locator("#status")).to_have_text("Stranger left the conversation.")
    expect(bob.locator("#status")).to_have_text("Looking for someone who likes go…")


def test_reloading_mid_conversation_keeps_both_transcripts_complete(
        browser, start_server, redis_url):  # noqa: F811
    site = start_server(redis_url=redis_url)  # the live state a deployment keeps in Redis
    alice, bob = guest_page(browser, site.url), guest_page(browser, site.url)
    start(alice, ["tea"])
    start(bob, ["tea"])
    expect_connected(alice, handle_of(bob), "tea")
    say(alice, "one")
    expect_line(bob, "partner", "one")
    say(bob, "two")
    expect_line(alice, "partner", "two")

    bob.reload()
    say(alice, "three, while you reloaded")
    expect_connected(bob, handle_of(alice), "tea")
    expect_line(bob, "partner", "three, while you reloaded")
    say(bob, "four, after the reload")
    expect_line(alice, "partner", "four, after the reload")

    expect(alice.locator("#notices")).not_to_contain_text("reconnecting")
    expected = [("me", "one"), ("partner", "two"), ("me", "three, while you reloaded"),
                ("partner", "four, after the reload")]
    assert transcript(alice) == expected
    assert transcript(bob) == [("partner" if who == "me" else "me", text)
                               for who, text in expected]


def in_thread(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    def run() -> Any:
        try:
            return function(*args, **kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


def make_member(username: str, keeps_history: bool) -> None:
    from django.utils import timezone

    from accounts.models import User

    User.objects.create_user(username=username, password="a long passphrase 7",
                             keeps_history=keeps_history, adult_confirmed_at=timezone.now())


def test_partner_is_told_plainly_that_a_transcript_is_kept(browser, start_server):  # noqa: F811
    site = start_server()
    make_member("KeeperOfLogs", keeps_history=True)
    keeper = member_page(browser, site.url, "KeeperOfLogs", "a long passphrase 7")
    guest = guest_page(browser, site.url)

    start(keeper, ["birds"])
    start(guest, ["birds"])
    expect_connected(guest, "KeeperOfLogs", "birds")

    notice = guest.locator("#transcript .keeps-history")
    expect(notice).to_have_text("Stranger keeps a transcript of this chat")
    say(keeper, "hello")
    expect_line(guest, "partner", "hello")
    assert guest.locator("#transcript li").evaluate_all(
        "items => items.findIndex(i => i.classList.contains('keeps-history'))"
        " < items.findIndex(i => i.classList.contains('line'))")
    expect(keeper.locator("#transcript .keeps-history")).to_have_count(0)


def test_keep_history_toggle_saves_the_setting(browser, start_server):  # noqa: F811
    from accounts.models import User

    site = start_server()
    make_member("ToggleTester", keeps_history=False)
    page = member_page(browser, site.url, "ToggleTester", "a long passphrase 7")

    page.check("#keep-history")
    expect(page.locator("#notices")).to_contain_text("History is on")
    assert User.objects.get(username="ToggleTester").keeps_history is True
    page.uncheck("#keep-history")
    expect(page.locator("#notices")).to_contain_text("History is off")
    assert User.objects.get(username="ToggleTester").keeps_history is False


def test_report_with_a_note_then_block_ends_the_chat_for_good(browser, start_server):  # noqa: F811
    from chat.models import Block
    from moderation.models import Report

    site = start_server()
    alice, bob = guest_page(browser, site.url), guest_page(browser, site.url)
    start(alice, ["rain"])
    start(bob, ["rain"])
    expect_connected(alice, handle_of(bob), "rain")
    say(bob, "something nasty")
    expect_line(alice, "partner", "something nasty")

    alice.click("#report")
    alice.check("#report-dialog input[value=harassment]")
    alice.fill("#report-note", "kept insulting me")
    alice.click("#report-send")
    expect(alice.locator("#notices")).to_contain_text("Your report was sent")
    report = Report.objects.get()
    assert (report.reporter.username, report.reported.username) == (handle_of(alice),
                                                                     handle_of(bob))
    assert (report.reason, report.note) == ("harassment", "kept insulting me")

    alice.click("#block")
    alice.click("#block")  # the second click confirms
    expect(alice.locator("#status")).to_have_text(
        "You blocked the stranger and left the conversation.")
    expect(bob.locator("#status")).to_have_text("Stranger ended the conversation.")
    expect(alice.locator("#block")).to_have_text("Blocked")
    expect(alice.locator("#block")).to_be_disabled()
    assert Block.objects.filter(blocker__username=handle_of(alice),
                                blocked__username=handle_of(bob)).exists()


def test_a_refused_line_is_marked_not_sent_with_when_to_try_again(
        browser, start_server):  # noqa: F811
    site = start_server(MESSAGE_RATE_LIMIT="2/30s")
    alice, bob = guest_page(browser, site.url), guest_page(browser, site.url)
    start(alice, ["sand"])
    start(bob, ["sand"])
    expect_connected(alice, handle_of(bob), "sand")

    # Four lines sent in one go, before any answer comes back.
    alice.evaluate("""texts => { const box = document.getElementById('message');
        for (const text of texts) {
            box.value = text; document.getElementById('composer').requestSubmit(); } }""",
                   ["one", "two", "three", "four"])

    expect(alice.locator("#notices")).to_contain_text(re.compile(r"you can send again in \d+ s"))
    expect(alice.locator("#transcript .line.failed .text")).to_have_text(["three", "four"])
    # Every refused line goes back into the box, in order: nothing typed is lost.
    expect(alice.locator("#message")).to_have_value("three\nfour")
    expect_line(bob, "partner", "two")
    assert [text for _, text in transcript(bob)] == ["one", "two"]

    # A half-typed line survives a reload (the conversation resumes).
    alice.fill("#message", "half a thought")
    alice.reload()
    expect_connected(alice, handle_of(bob), "sand")
    expect(alice.locator("#message")).to_have_value("half a thought")


def test_banned_user_is_told_until_when_and_why_and_not_reconnected(
        browser, start_server):  # noqa: F811
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import User
    from moderation.bans import issue_ban

    site = start_server()
    page = guest_page(browser, site.url)
    user = User.objects.get(username=handle_of(page))
    # In a thread of its own: its on-commit notification must not run in Playwright's loop.
    in_thread(issue_ban, user.pk, "spamming links", until=timezone.now() + timedelta(days=2))
    sockets: list = []
    page.on("websocket", lambda socket: sockets.append(socket))

    page.reload()

    expect(page.locator("#notices")).to_contain_text("You are banned until")
    expect(page.locator("#notices")).to_contain_text("Reason: spamming links.")
    expect(page.locator("#start")).to_be_disabled()
    page.wait_for_timeout(3000)
    assert len(sockets) == 1  # no reconnect after the 4003 close

    page.get_by_role("link", name="Read the decision or appeal it").click()
    expect(page.locator("main")).to_contain_text("spamming links")


def test_a_line_the_filter_changed_is_marked_on_both_sides(browser, start_server):  # noqa: F811
    site = start_server()
    alice, bob = guest_page(browser, site.url), guest_page(browser, site.url)
    start(alice, ["post"])
    start(bob, ["post"])
    expect_connected(alice, handle_of(bob), "post")

    say(alice, "write to me at alice.smith@example.com")

    for page in (alice, bob):
        line = page.locator("#transcript .line.filtered")
        expect(line).to_have_count(1)
        expect(line.locator(".filtered-mark")).to_be_visible()
        assert "alice.smith@example.com" not in line.locator(".text").inner_text()
    expect(alice.locator(".filtered-mark")).to_have_text("filtered: your partner saw this version")


def test_opening_a_second_tab_retires_the_first_without_reconnecting(
        browser, start_server):  # noqa: F811
    site = start_server()
    first = guest_page(browser, site.url)
    sockets: list = []
    first.on("websocket", lambda socket: sockets.append(socket))

    second = first.context.new_page()
    second.goto(site.url + "/chat/")

    expect(first.locator("#status")).to_have_text("Opened in another tab")
    expect(first.locator("#start")).to_be_disabled()
    expect(second.locator("#start")).to_be_enabled()
    first.wait_for_timeout(2000)
    assert sockets == []
