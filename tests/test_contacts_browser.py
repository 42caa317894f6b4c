"""Keeping in touch through the real pages (PROTOCOL.md section 5), in chromium.

Two strangers with full accounts meet, both press "Keep in touch", one leaves. Later the one
who stayed writes a letter, which the other finds on return; then invites the other from the
contacts page to a video call, which goes through the test's TURN server only. One of the two
is on a phone (390x844, touch), the other on a laptop; screenshots go to /tmp (with
TEST_SCREENSHOTS=true).
"""
from __future__ import annotations

import os

import pytest
from browser import (  # noqa: F401 - `call_browser` is a fixture
    LAPTOP,
    PHONE_CONTEXT,
    call_browser,
    expect_line,
    member_page,
    say,
    screenshot,
    start,
)
from playwright.sync_api import Page, expect
from test_call_browser import (  # noqa: F401 - `turn_server` is a fixture
    TURN_SECRET,
    assert_relayed,
    call_stats,
    turn_server,
)

from chat.contacts.models import Contact
from tests.keeping import full_user

# Playwright's sync API runs an event loop in this thread; the ORM is used between its calls.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

PASSWORD = "x-pass-123"


def connected_text_chat(alice: Page, bob: Page) -> None:
    start(alice, ["letters"])
    start(bob, ["letters"])
    for page in (alice, bob):
        expect(page.locator("#status")).to_have_text(
            "Chatting with a stranger — you both like letters")


def test_meet_keep_in_touch_write_and_talk_again_by_video(call_browser, start_server,  # noqa: F811
                                                          turn_server) -> None:  # noqa: F811
    site = start_server(TURN_URLS=turn_server.url, TURN_SECRET=TURN_SECRET,
                        WEBRTC_RELAY_ONLY="true")
    ann, ben = full_user("Ann"), full_user("Ben")
    alice = member_page(call_browser, site.url, ann.username, PASSWORD, LAPTOP)
    bob = member_page(call_browser, site.url, ben.username, PASSWORD, **PHONE_CONTEXT)

    # They meet as strangers; the button is there, and only both pressing it connects them.
    connected_text_chat(alice, bob)
    say(bob, "nice talking to you")
    expect_line(alice, "partner", "nice talking to you")
    alice.click("#keep-in-touch")
    expect(alice.locator("#keep-in-touch")).to_have_text("Asked ✓")
    offer = bob.locator("#keep-offer")
    expect(offer).to_contain_text(f"{ann.username} would like to keep in touch")
    screenshot(bob, "/tmp/contacts-offer-phone.png")
    assert Contact.objects.count() == 0
    offer.get_by_role("button", name="Keep in touch").click()
    for page, other in ((alice, ben), (bob, ann)):
        expect(page.locator("#transcript")).to_contain_text(
            f"You and {other.username} are now contacts.")
        expect(page.locator("#keep-in-touch")).to_have_text("Contacts ✓")
    contact = str(Contact.objects.get().pk)

    # Bob leaves and goes away; Alice writes him a letter meanwhile.
    bob.click("#next")  # leaves (and looks for someone new)
    expect(alice.locator("#transcript")).to_contain_text("left the conversation")
    bob.context.close()
    alice.goto(f"{site.url}/contacts/{contact}/")
    alice.fill("#letter-text", "Write back when you are around!")
    alice.click(".letter-form button[type=submit]")
    expect(alice.locator("#letters .line.mine .text")).to_have_text(
        ["Write back when you are around!"])

    # Bob comes back: the contacts page shows the unread letter, the thread shows the letter.
    bob = member_page(call_browser, site.url, ben.username, PASSWORD, **PHONE_CONTEXT)
    bob.goto(f"{site.url}/contacts/")
    row = bob.locator(f"li.contact[data-contact='{contact}']")
    expect(row).to_contain_text(ann.username)
    expect(row.locator(".unread")).to_have_text("1 new")
    screenshot(bob, "/tmp/contacts-page-phone.png", full_page=True)
    row.locator(".contact-handle").click()
    expect(bob.locator("#letters .line.theirs .text")).to_have_text(
        ["Write back when you are around!"])

    # Later Alice invites Bob to a video call from the contacts page.
    bob.goto(f"{site.url}/chat/")
    expect(bob.locator("#start")).to_be_enabled()
    alice.goto(f"{site.url}/contacts/")
    alice.locator(f"li.contact[data-contact='{contact}'] .talk a", has_text="Video").click()
    alice.wait_for_url("**/chat/")
    expect(alice.locator("#keeping")).to_contain_text(f"Inviting {ben.username} to a video call")
    card = bob.locator("#keeping .keeping-card.invitation")
    expect(card).to_contain_text(f"{ann.username} invites you to a video call")
    screenshot(bob, "/tmp/contacts-invitation-phone.png")
    card.get_by_role("button", name="Accept").click()
    for page, other in ((alice, ben), (bob, ann)):
        expect(page.locator("#transcript")).to_contain_text(
            f"You are talking with {other.username}, one of your contacts.")
        expect(page.locator("#call-state")).to_have_text("Video call connected")
        stats = call_stats(page)
        assert stats["framesDecoded"] > 0
        assert_relayed(stats, turn_server)
    expect(alice.locator("#keeping")).to_be_empty()
    say(alice, "good to see you again")
    expect_line(bob, "partner", "good to see you again")
    screenshot(alice, "/tmp/contacts-direct-call-laptop.png")


def test_invitation_badges_a_background_tab_and_can_be_declined(call_browser,  # noqa: F811
                                                                start_server) -> None:
    site = start_server()
    ann, ben = full_user("Ann"), full_user("Ben")
    contact = str(Contact.objects.create(user_low=min(ann, ben, key=lambda u: u.pk),
                                         user_high=max(ann, ben, key=lambda u: u.pk)).pk)
    alice = member_page(call_browser, site.url, ann.username, PASSWORD, **PHONE_CONTEXT)
    bob = member_page(call_browser, site.url, ben.username, PASSWORD, LAPTOP)
    # Bob's tab is in the background.
    bob.evaluate("""() => {
      Object.defineProperty(document, "hidden", { value: true, configurable: true });
      document.dispatchEvent(new Event("visibilitychange"));
    }""")
    alice.goto(f"{site.url}/chat/?invite={contact}&mode=text")
    card = bob.locator("#keeping .keeping-card.invitation")
    expect(card).to_contain_text(f"{ann.username} invites you to a text chat")
    # the badge of a hidden tab; a function, as an expression would be polled through eval,
    # which the page's Content-Security-Policy refuses
    bob.wait_for_function("() => document.title.startsWith('(1) ')")
    assert alice.evaluate("location.search") == ""  # a reload does not invite again
    card.get_by_role("button", name="Decline").click()
    expect(card).to_have_count(0)
    expect(alice.locator("#notices")).to_contain_text(f"{ben.username} cannot talk now.")
    expect(alice.locator("#keeping")).to_be_empty()
    screenshot(alice, "/tmp/contacts-declined-phone.png")
