"""/account/export/?format=json|html|csv: the whole record, as the contract's section 4."""
from __future__ import annotations

import csv
import io
import json
import re
import uuid
from typing import Any

import pytest
from django.test import Client

from accounts.models import User
from chat.conversations import block_user
from chat.models import Conversation
from moderation.models import Decision
from moderation.reports import file_report
from tests.kept import keep, logged_in, make_user

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

TRICKY_LINES = [
    "hello 👋🏽 family: 👨‍👩‍👧‍👦",
    "مرحبا بالعالم",  # right to left
    "שלום, mixed with English ‏and marks‎",
    'quotes " and \' and \\ backslash, <script>alert(1)</script> & ampersand',
    "two\nlines\r\nand a tab\there",
    "=HYPERLINK(\"http://evil.example\",\"click\")",
    "+1+1", "-2", "@SUM(A1)", "\tTAB", "\rCR",
    "𝕌𝕟𝕚𝕔𝕠𝕕𝕖 astral plane, zero\u200bwidth",
]
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


@pytest.fixture(autouse=True)
def _real_postgres(postgres: None) -> None:
    pass


def assert_iso(value: Any, nullable: bool = False) -> None:
    if nullable and value is None:
        return
    assert isinstance(value, str) and ISO.match(value), value


def assert_chat_record(document: dict[str, Any]) -> None:
    """PROTOCOL.md section 4, field by field."""
    assert {"format", "version", "exported_at", "user", "conversations", "reports",
            "blocks"} <= set(document)
    assert document["format"] == "chat-record" and document["version"] == 2
    assert_iso(document["exported_at"])
    assert isinstance(document["user"]["handle"], str)
    assert_iso(document["user"]["joined"])
    assert isinstance(document["conversations"], list)
    for conversation in document["conversations"]:
        assert {"id", "mode", "started_at", "ended_at", "partner", "messages"} <= set(
            conversation)
        uuid.UUID(conversation["id"])
        assert conversation["mode"] in {"text", "voice", "video"}
        assert_iso(conversation["started_at"])
        assert_iso(conversation["ended_at"], nullable=True)
        assert isinstance(conversation["partner"], str)
        for message in conversation["messages"]:
            assert set(message) == {"from", "text", "ts"}
            assert message["from"] in {"me", "partner"}
            assert isinstance(message["text"], str)
            assert_iso(message["ts"])
    assert isinstance(document["reports"], list) and isinstance(document["blocks"], list)


def test_json_export_follows_the_contract_and_round_trips_every_line() -> None:
    owner = make_user("exporter")
    conversation_id = keep(owner, TRICKY_LINES)
    keep(make_user("not-exported"), ["someone else's line"])
    response = logged_in(owner).get("/account/export/", {"format": "json"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    document = json.loads(response.content.decode("utf-8"))
    assert_chat_record(document)
    assert document["user"]["handle"] == "exporter"
    [conversation] = document["conversations"]
    assert conversation["id"] == conversation_id and conversation["partner"] == "PartnerFox"
    assert [m["text"] for m in conversation["messages"]] == TRICKY_LINES
    assert [m["from"] for m in conversation["messages"]][:2] == ["me", "partner"]
    assert conversation["messages"][0]["ts"] == "2026-01-02T03:04:01.000Z"


def test_export_includes_the_users_reports_and_blocks_only() -> None:
    owner, partner, other = make_user("reporter"), make_user("rude-one"), make_user("other")
    live = Conversation.objects.create(user_a=owner, user_b=partner)
    file_report(owner.id, partner.id, str(live.id), "harassment", "rude <words>")
    block_user(owner.id, partner.id, str(live.id))
    file_report(other.id, owner.id, None, "spam", "not the exporter's report")
    block_user(other.id, owner.id, None)
    document = json.loads(logged_in(owner).get("/account/export/?format=json").content)
    assert_chat_record(document)
    assert [(r["reason"], r["reported"], r["note"]) for r in document["reports"]] == [
        ("harassment", "rude-one", "rude <words>")]
    assert [b["handle"] for b in document["blocks"]] == ["rude-one"]


def test_export_includes_decisions_about_the_user_and_outcomes_of_their_reports() -> None:
    owner, reported, other = make_user("decided"), make_user("reported-one"), make_user("x")
    report = file_report(owner.id, reported.id, None, "spam", "")
    Decision.objects.create(action="warn", reason="be kind", subject=owner)
    Decision.objects.create(action="mute", reason="private notes about reported-one",
                            subject=reported, report=report)
    Decision.objects.create(action="dismiss", reason="unrelated", subject=other)
    document = json.loads(logged_in(owner).get("/account/export/?format=json").content)
    about_me, my_report = document["decisions"]
    assert (about_me["about"], about_me["action"], about_me["reason"]) == ("me", "warn",
                                                                          "be kind")
    assert (my_report["about"], my_report["action"], my_report["report"]) == (
        "my_report", "mute", report.pk)
    assert "private notes" not in json.dumps(document)
    assert "moderator" not in about_me


def test_a_user_without_history_still_gets_a_valid_record() -> None:
    guest = User.objects.create_user(username="GuestOwl7", is_guest=True)
    document = json.loads(logged_in(guest).get("/account/export/?format=json").content)
    assert_chat_record(document)
    assert document["conversations"] == []


def test_csv_export_has_one_row_per_line_with_formulas_neutralised() -> None:
    owner = make_user("spreadsheet")
    keep(owner, TRICKY_LINES, partner="=cmd|' /C calc'!A0")
    response = logged_in(owner).get("/account/export/?format=csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))
    assert len(rows) == len(TRICKY_LINES)
    for row in rows:
        for cell in row.values():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    texts = [row["text"] for row in rows]
    assert texts[5] == "'" + TRICKY_LINES[5]
    assert texts[6:11] == ["'+1+1", "'-2", "'@SUM(A1)", "'\tTAB", "'\rCR"]
    assert texts[:5] == TRICKY_LINES[:5] and texts[11] == TRICKY_LINES[11]
    assert rows[0]["partner"] == "'=cmd|' /C calc'!A0"


def test_html_export_is_self_contained_readable_and_escaped() -> None:
    owner = make_user("reader")
    keep(owner, TRICKY_LINES, partner="<img src=x onerror=alert(1)>")
    response = logged_in(owner).get("/account/export/?format=html")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    page = response.content.decode("utf-8")
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "مرحبا بالعالم" in page and "👨‍👩‍👧‍👦" in page and 'dir="auto"' in page
    # Nothing is fetched from elsewhere: no external stylesheets, scripts or images.
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "<style>" in page
    # Times read as people read them; the exact ISO time stays in `<time datetime>`.
    assert '">2 Jan 2026, 03:04 UTC</time>' in page
    assert not re.search(r">[^<]*2026-01-02T", page)


def test_unknown_export_format_is_a_clear_error() -> None:
    response = logged_in(make_user("typo")).get("/account/export/?format=xml")
    assert response.status_code == 400
    assert b"format=json" in response.content


def test_export_needs_a_login() -> None:
    response = Client().get("/account/export/?format=json")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
