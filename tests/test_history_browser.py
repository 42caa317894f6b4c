"""A registered user who keeps history chats with a guest through the real page, then reads
the transcript and downloads the record (daphne, chromium, PostgreSQL)."""
from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from browser import (  # noqa: F401 - `browser` is a fixture
    CHROMIUM_FLAGS,
    LAPTOP,
    accept_rules,
    browser,
    expect_connected,
    expect_line,
    guest_page,
    handle_of,
    say,
    start,
)
from playwright.sync_api import Browser, Page, expect

from accounts.models import User
from chat.history import SeenConversation, SeenLine, write_events
from chat.models import KeptConversation

# Playwright's sync API runs an event loop in this thread; the ORM is not used meanwhile.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.shared_server]

PASSWORD = "a-long-test-passphrase-42"
LINES = ["hello stranger 👋", "مرحبا! שלום!", "<b>not bold</b>"]
assert CHROMIUM_FLAGS  # the launch flags the `browser` fixture uses


def keeper_page(browser: Browser, site_url: str, username: str) -> Page:  # noqa: F811
    """A registered user who keeps history, logged in through the login page."""
    User.objects.create_user(username=username, password=PASSWORD, keeps_history=True,
                             adult_confirmed_at=datetime.now(UTC))
    context = browser.new_context(viewport=LAPTOP, accept_downloads=True)
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.goto(site_url + "/accounts/login/")
    page.fill("input[name=login]", username)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form").filter(has=page.locator("input[name=password]")).locator(
        "button[type=submit]").click()
    page.wait_for_url("**/chat/")
    accept_rules(page)
    expect(page.locator("#start")).to_be_enabled()
    return page


def download(page: Page, selector: str, tmp_path: Path) -> str:
    with page.expect_download() as info:
        page.click(selector)
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(target)
    return target.read_text(encoding="utf-8")


def open_transcript_when_kept(page: Page, site_url: str, partner: str) -> None:
    """History is written in the background a moment after the lines: reload until it is."""
    for _ in range(40):
        page.goto(site_url + "/history/")
        link = page.locator("tr", has_text=partner).get_by_role("link", name="Open")
        if link.count():
            link.click()
            return
        page.wait_for_timeout(250)
    pytest.fail(f"no kept conversation with {partner} appeared in /history/")


def test_keeper_chats_with_guest_then_reads_transcript_and_downloads_record(
        browser, start_server, tmp_path):  # noqa: ANN001, F811
    site = start_server()
    keeper = keeper_page(browser, site.url, "KeeperKite")
    guest = guest_page(browser, site.url)
    guest_handle = handle_of(guest)

    start(keeper, ["origami"])
    start(guest, ["origami"])
    expect_connected(keeper, guest_handle, "origami")
    expect_connected(guest, "KeeperKite", "origami")
    # The guest is told plainly, before the first line, that this stranger keeps a transcript.
    expect(guest.locator("#transcript .keeps-history")).to_have_text(
        "Stranger keeps a transcript of this chat")
    expect(keeper.locator("#transcript .keeps-history")).to_have_count(0)

    say(keeper, LINES[0])
    expect_line(guest, "partner", LINES[0])
    say(guest, LINES[1])
    expect_line(keeper, "partner", LINES[1])
    say(guest, LINES[2])
    expect_line(keeper, "partner", LINES[2])
    keeper.click("#next")
    expect(guest.locator("#status")).to_have_text("Stranger left the conversation.")

    open_transcript_when_kept(keeper, site.url, guest_handle)
    # Only the side that keeps history has a copy; the guest's lines are kept for nobody else.
    assert list(KeptConversation.objects.values_list("owner__username", flat=True)) == [
        "KeeperKite"]
    lines = keeper.locator("#transcript .line .text")
    expect(lines).to_have_text(LINES)
    assert keeper.locator("#transcript b").count() == 0

    keeper.goto(site.url + "/account/export/")
    document = json.loads(download(keeper, "#export-json", tmp_path))
    [conversation] = document["conversations"]
    assert conversation["partner"] == guest_handle
    assert [(m["from"], m["text"]) for m in conversation["messages"]] == [
        ("me", LINES[0]), ("partner", LINES[1]), ("partner", LINES[2])]
    page = download(keeper, "#export-html", tmp_path)
    assert "مرحبا! שלום!" in page and "&lt;b&gt;not bold&lt;/b&gt;" in page


def test_keeper_reads_a_kept_transcript_and_downloads_json_and_html(
        browser, start_server, tmp_path):  # noqa: ANN001, F811
    site = start_server()
    keeper = keeper_page(browser, site.url, "ArchiveAnt")
    conversation_id = str(uuid.uuid4())
    started = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    owner_id = User.objects.get(username="ArchiveAnt").id
    write_events([SeenConversation(owner_id, conversation_id, "text", "QuietOtter42",
                                   started.isoformat())] + [
        SeenLine(owner_id, conversation_id, f"{conversation_id}.{seq}", seq == 1, text,
                 (started + timedelta(seconds=seq)).isoformat(), False)
        for seq, text in enumerate(LINES, start=1)])

    open_transcript_when_kept(keeper, site.url, "QuietOtter42")
    expect(keeper.locator("#transcript .line .text")).to_have_text(LINES)
    assert keeper.locator("#transcript b").count() == 0

    keeper.goto(site.url + "/account/export/")
    document = json.loads(download(keeper, "#export-json", tmp_path))
    assert [m["text"] for m in document["conversations"][0]["messages"]] == LINES
    page = download(keeper, "#export-html", tmp_path)
    assert "مرحبا! שלום!" in page and "&lt;b&gt;not bold&lt;/b&gt;" in page

    keeper.goto(site.url + "/account/export/")
    keeper.click("#export-zip")
    expect(keeper.locator("#export-link")).to_be_visible()
    zip_name = tmp_path / "record.zip"
    with keeper.expect_download() as info:
        keeper.click("#export-download")
    info.value.save_as(zip_name)
    assert zip_name.read_bytes().startswith(b"PK")
