"""A failed database write never puts chat text, notes or handles into a log record.

Each error path is forced on the real PostgreSQL with a trigger that refuses the write and
quotes the whole row in its message and detail (as PostgreSQL's own errors quote keys, JSON
and statements); the test reads what the site's configured log handler wrote.
"""
from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterator

import pytest
from channels.db import database_sync_to_async
from chatsockets import close_all, connect, make_user, pair_clients
from django.db import DataError, connection, transaction
from django.test import Client
from django.utils import timezone

from accounts.models import User
from chat.history import flush_history
from chatsite.plumbing.logging import RedactUserText
from moderation.reports import file_report
from tests.kept import keep

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("postgres")]

SECRET_LINE = "my-secret-line-7f3a"
SECRET_NOTE = "my-secret-note-91c2"

REFUSE = """
CREATE OR REPLACE FUNCTION test_refuse_write() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'forced failure: %', row_to_json(COALESCE(NEW, OLD))::text
        USING DETAIL = 'row: ' || row_to_json(COALESCE(NEW, OLD))::text;
END $$ LANGUAGE plpgsql;
"""


@pytest.fixture
def console_log() -> Iterator[io.StringIO]:
    """What the handler configured in settings.LOGGING writes, captured."""
    handler = next(h for h in logging.getLogger().handlers if h.name == "console")
    assert any(isinstance(f, RedactUserText) for f in handler.filters)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    yield buffer
    handler.setStream(previous)


@pytest.fixture
def refuse() -> Iterator:
    """refuse("chat_block") makes every INSERT/UPDATE/DELETE on that table fail."""
    tables: list[str] = []

    def on(*names: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(REFUSE)
            for name in names:
                cursor.execute(f"CREATE TRIGGER test_refuse BEFORE INSERT OR UPDATE OR DELETE "
                               f"ON {name} FOR EACH ROW EXECUTE FUNCTION test_refuse_write()")
                tables.append(name)

    yield on
    with connection.cursor() as cursor:
        for name in tables:
            cursor.execute(f"DROP TRIGGER IF EXISTS test_refuse ON {name}")


def assert_private(log: str, *secrets: str) -> None:
    assert log.strip(), "the error path logged nothing; the test would prove nothing"
    for secret in secrets:
        assert secret not in log, f"{secret!r} reached the log:\n{log}"


async def test_a_failed_report_logs_no_line_note_or_handle(console_log, refuse) -> None:
    a, b = await connect(prefix="Harasser"), await connect(prefix="Target")
    await pair_clients(a, b)
    await a.send({"type": "message", "text": SECRET_LINE})
    await b.expect("message")
    await database_sync_to_async(refuse)("moderation_report")
    await b.send({"type": "report", "reason": "harassment", "note": SECRET_NOTE})
    assert (await b.error())["code"] == "unavailable"
    await close_all(a, b)
    assert_private(console_log.getvalue(), SECRET_LINE, SECRET_NOTE, a.handle, b.handle)


async def test_a_failed_history_write_of_a_line_logs_no_text_or_handle(console_log,
                                                                       refuse) -> None:
    keeper = await make_user("Keeper")
    await database_sync_to_async(User.objects.filter(pk=keeper.pk).update)(keeps_history=True)
    keeper.keeps_history = True
    await database_sync_to_async(refuse)("chat_keptconversation", "chat_keptline")
    a, b = await connect(prefix="Sender"), await connect(keeper)
    await pair_clients(a, b)
    await a.send({"type": "message", "text": SECRET_LINE})
    assert (await b.expect("message"))["text"] == SECRET_LINE
    await flush_history()
    await asyncio.sleep(0.3)
    await close_all(a, b)
    await flush_history()
    assert_private(console_log.getvalue(), SECRET_LINE, a.handle, b.handle)


async def test_a_failed_block_logs_no_handle(console_log, refuse) -> None:
    a, b, = await connect(prefix="Blocker"), await connect(prefix="Blocked")
    await pair_clients(a, b)
    await database_sync_to_async(refuse)("chat_block")
    await a.send({"type": "block"})
    assert (await a.error())["code"] == "unavailable"
    await close_all(a, b)
    assert_private(console_log.getvalue(), a.handle, b.handle)


def test_a_failed_history_page_logs_no_handle(console_log, refuse) -> None:
    owner = User.objects.create_user(username="OwnerOfHistory", password="x-pass-123",
                                     keeps_history=True, rules_accepted_at=timezone.now())
    conversation = keep(owner, [SECRET_LINE], partner="SecretPartnerHandle")
    refuse("chat_keptconversation", "chat_keptline")
    client = Client(raise_request_exception=False)
    client.force_login(owner)
    response = client.post(f"/history/{conversation}/")
    assert response.status_code == 503  # plumbing.middleware's friendly page for a database error
    assert_private(console_log.getvalue(), "SecretPartnerHandle", "OwnerOfHistory")


def test_statements_are_logged_without_their_values(console_log) -> None:
    a = User.objects.create(username="LoggedAlice")
    b = User.objects.create(username="LoggedBob")
    logger = logging.getLogger("django.db.backends")
    level, connection.force_debug_cursor = logger.level, True
    logger.setLevel(logging.DEBUG)
    root_level = logging.getLogger().level
    logging.getLogger().setLevel(logging.DEBUG)
    try:
        file_report(a.pk, b.pk, None, "spam", SECRET_NOTE,
                    evidence=[{"from": "LoggedBob", "text": SECRET_LINE, "ts": "t"}])
    finally:
        logger.setLevel(level)
        logging.getLogger().setLevel(root_level)
        connection.force_debug_cursor = False
    log = console_log.getvalue()
    assert "INSERT statement" in log
    assert_private(log, SECRET_LINE, SECRET_NOTE, "LoggedAlice", "LoggedBob")


def test_a_database_error_keeps_its_class_and_state_for_the_operator(console_log) -> None:
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT %s::uuid", [f"not-a-uuid {SECRET_LINE}"])
    except DataError as error:
        logging.getLogger("chat.consumers").warning("database unavailable: %s", error)
        logging.getLogger("chat.consumers").exception("task failed")
    log = console_log.getvalue()
    assert "DataError [22P02]: invalid input syntax for type uuid" in log
    assert_private(log, SECRET_LINE)


def test_other_records_are_left_as_they_are(console_log) -> None:
    logging.getLogger("chat").warning("plain %s", "kept")
    assert "plain kept" in console_log.getvalue()
