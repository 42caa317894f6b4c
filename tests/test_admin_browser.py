"""A moderator works the queue in a real browser: log in, read the queue, open a report,
ban from it. Screenshots go to /tmp/screens/admin_*.png (with TEST_SCREENSHOTS=true)."""
import os
import uuid
from pathlib import Path

import pytest
from browser import browser, screenshot  # noqa: F401 - the chromium fixture
from playwright.sync_api import Browser, Page, expect

from accounts.models import User
from chat.models import Conversation
from moderation.decisions import decide_report
from moderation.management.commands.create_moderators_group import ensure_moderators_group
from moderation.models import Ban, Decision
from moderation.reports import file_report

# Playwright's sync API runs an event loop in this thread until the worker's chromium stops,
# which is after this test when the file runs last (pytest-django's database teardown then).
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
SCREENS = Path("/tmp/screens")
PASSWORD = "correct horse battery staple"


def seed_queue() -> None:
    moderator = User.objects.create_user("mod_maria", password=PASSWORD, is_staff=True)
    moderator.groups.add(ensure_moderators_group())
    colleague = User.objects.create_user("mod_omar", password=PASSWORD, is_staff=True)
    users = {name: User.objects.create(username=name, is_guest=True) for name in (
        "QuietOtter42", "BrightFalcon7", "<b>LoudBadger</b>", "CalmHeron3", "SwiftLynx88")}

    def report(reporter: str, reported: str, reason: str, note: str, lines: list[str]):
        conversation = Conversation.objects.create(
            id=uuid.uuid4(), user_a=users[reporter], user_b=users[reported])
        evidence = [{"from": reported if i % 2 == 0 else reporter, "text": text,
                     "ts": f"2026-11-25T10:{i:02d}:{i * 7 % 60:02d}Z"}
                    for i, text in enumerate(lines)]
        return file_report(users[reporter].pk, users[reported].pk, str(conversation.pk),
                           reason, note, evidence=evidence)

    earlier = report("CalmHeron3", "<b>LoudBadger</b>", "spam", "links again",
                     ["buy followers at example.test", "no thanks"])
    decide_report(earlier.pk, colleague.pk, "warn", "Spam links; first warning.")
    report("QuietOtter42", "<b>LoudBadger</b>", "harassment",
           "Kept insulting me after I asked them to stop.",
           ["you're pathetic", "please stop", "<script>alert('x')</script> cry more",
            "I'm leaving", "nobody wants you here"])
    report("BrightFalcon7", "SwiftLynx88", "minor_safety", "Says they are 14.",
           ["how old are you", "14, is that ok?", "ok"])
    report("SwiftLynx88", "CalmHeron3", "spam", "", ["check my channel!!!"])
    report("CalmHeron3", "BrightFalcon7", "other", "weird vibes", ["hi", "hello"])


def shoot(page: Page, name: str) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    screenshot(page, str(SCREENS / f"admin_{name}.png"), full_page=True)


def test_moderator_reads_the_queue_opens_a_report_and_bans_from_it(
        start_server, browser: Browser, monkeypatch) -> None:  # noqa: F811
    # Playwright's sync API keeps an event loop in this thread; the ORM calls here are plain
    # sequential test set-up and checks.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    seed_queue()
    server = start_server()
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.on("dialog", lambda dialog: pytest.fail(f"a dialog opened: {dialog.message}"))

    page.goto(server.url + "/admin/login/")
    page.fill("#id_username", "mod_maria")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")
    dashboard = page.locator("#moderation-dashboard")
    expect(dashboard).to_contain_text("open reports")
    expect(dashboard.locator("svg rect").first).to_be_attached()
    shoot(page, "index")

    dashboard.get_by_text("open reports").click()
    page.wait_for_url("**/admin/moderation/report/**")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.first).to_contain_text("Minor safety")
    expect(rows.nth(1)).to_contain_text("<b>LoudBadger</b>")  # shown as text, not markup
    shoot(page, "queue")

    rows.nth(1).locator("th a").click()
    page.wait_for_url("**/change/")
    transcript = page.locator(".transcript")
    expect(transcript).to_contain_text("<script>alert('x')</script> cry more")
    expect(page.locator(".case")).to_contain_text("Spam links; first warning.")
    shoot(page, "report")

    page.get_by_role("button", name="Temporary ban…").click()
    page.get_by_label("7d").check()
    page.fill("textarea[name=reason]", "Sustained insults after being asked to stop.")
    shoot(page, "decide")
    page.locator(".submit-row input[type=submit]").click()
    page.wait_for_url("**/admin/moderation/report/")
    expect(page.locator(".messagelist")).to_contain_text("1 done")
    expect(page.locator("#result_list tbody tr")).to_have_count(3)
    shoot(page, "after_ban")

    page.goto(server.url + "/admin/moderation/decision/")
    expect(page.locator("#result_list tbody tr")).to_have_count(2)
    expect(page.locator("#result_list")).to_contain_text(
        "Sustained insults after being asked to stop.")
    shoot(page, "audit_log")

    ban = Ban.objects.get()
    assert ban.user.username == "<b>LoudBadger</b>"
    assert Decision.objects.filter(action="temporary_ban", moderator__username="mod_maria"
                                   ).exists()
    context.close()
