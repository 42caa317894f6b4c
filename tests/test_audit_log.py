"""The audit log is append-only in the database (issue 11, finding 4): raw SQL and the base
manager cannot change or delete a decision, on PostgreSQL (the test database) and on SQLite;
erasing an account still pseudonymises the decisions about it."""
from __future__ import annotations

import importlib
from collections.abc import Iterator

import pytest
from django.db import DatabaseError, connection, models, transaction
from django.db.utils import ConnectionHandler

from accounts.deletion import delete_account, pseudonym_for
from accounts.models import User
from moderation.bans import issue_ban
from moderation.decisions import decide_report
from moderation.models import Decision, Report
from moderation.reports import file_report

pytestmark = pytest.mark.django_db(transaction=True)

append_only = importlib.import_module("moderation.migrations.0007_decision_append_only")


@pytest.fixture
def decision() -> Decision:
    moderator = User.objects.create(username="ModMia", is_staff=True)
    offender = User.objects.create(username="Offender")
    return issue_ban(offender.pk, "insults", moderator_id=moderator.pk).decision


def refused(statement: str, *params: object) -> bool:
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, params)
    except DatabaseError as error:
        assert "append-only" in str(error)
        return True
    return False


@pytest.mark.usefixtures("postgres")
def test_the_test_database_is_postgresql() -> None:
    assert connection.vendor == "postgresql"


@pytest.mark.usefixtures("postgres")  # PostgreSQL's own SQL
def test_raw_sql_cannot_change_or_delete_a_decision(decision: Decision) -> None:
    before = Decision.objects.filter(pk=decision.pk).values().get()
    assert refused("UPDATE moderation_decision SET reason = %s WHERE id = %s",
                   "nothing happened", decision.pk)
    assert refused("UPDATE moderation_decision SET action = 'dismiss' WHERE id = %s",
                   decision.pk)
    assert refused("UPDATE moderation_decision SET created_at = now() - interval '1 year'")
    assert refused("UPDATE moderation_decision SET subject_handle = 'someone-else'")
    assert refused("DELETE FROM moderation_decision WHERE id = %s", decision.pk)
    assert Decision.objects.filter(pk=decision.pk).values().get() == before


def test_the_base_manager_cannot_change_or_delete_a_decision(decision: Decision) -> None:
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Decision._base_manager.filter(pk=decision.pk).update(reason="rewritten")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        models.QuerySet.update(Decision._base_manager.filter(pk=decision.pk),
                               action=Decision.Action.DISMISS)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Decision._base_manager.filter(pk=decision.pk)._raw_delete(connection.alias)
    assert Decision.objects.get(pk=decision.pk).reason == "insults"


def test_a_live_subjects_handle_cannot_be_pseudonymised(decision: Decision) -> None:
    """The one allowed change needs the subject cleared in the same statement."""
    assert refused("UPDATE moderation_decision SET subject_handle = 'deleted-abcdef'")


def test_erasing_accounts_keeps_the_decisions_under_a_pseudonym() -> None:
    moderator = User.objects.create(username="ModMia", is_staff=True)
    reporter = User.objects.create(username="Reporter")
    offender = User.objects.create(username="Offender")
    report = file_report(reporter.pk, offender.pk, None, "harassment", "")
    decide_report(report.pk, moderator.pk, Decision.Action.WARN, "be kind")
    assert delete_account(offender.pk)
    assert delete_account(moderator.pk)
    stored = Decision.objects.get()
    assert stored.subject_id is None and stored.moderator_id is None
    assert stored.subject_handle == pseudonym_for(offender.pk)
    assert stored.reason == "be kind" and stored.report_id == report.pk
    assert Report.objects.get().reported_handle == pseudonym_for(offender.pk)


@pytest.fixture
def sqlite() -> Iterator:
    """A separate SQLite database with the decision table and the migration's triggers."""
    handler = ConnectionHandler({"default": {"ENGINE": "django.db.backends.sqlite3",
                                             "NAME": ":memory:"}})
    lite = handler["default"]
    with lite.cursor() as cursor:  # the tables a decision refers to, reduced to their keys
        for table in ("accounts_user", "moderation_report"):
            cursor.execute(f"CREATE TABLE {table} (id integer PRIMARY KEY)")
        cursor.execute("INSERT INTO accounts_user (id) VALUES (7), (8)")
    with lite.schema_editor() as editor:
        editor.create_model(Decision)
        append_only.install(None, editor)
    yield lite
    lite.close()


def test_on_sqlite_too_raw_sql_cannot_change_or_delete_a_decision(sqlite) -> None:
    with sqlite.cursor() as cursor:
        cursor.execute("INSERT INTO moderation_decision (action, reason, subject_handle, "
                       "created_at, subject_id) VALUES ('warn', 'be kind', 'Offender', "
                       "'2026-11-28 08:00:00', NULL)")
        for statement in ("UPDATE moderation_decision SET reason = 'nothing happened'",
                          "UPDATE moderation_decision SET subject_handle = 'deleted-abcdef'",
                          "UPDATE moderation_decision SET created_at = '2020-01-01'",
                          "DELETE FROM moderation_decision"):
            with pytest.raises(DatabaseError, match="append-only"):
                cursor.execute(statement)
        cursor.execute("SELECT action, reason, subject_handle FROM moderation_decision")
        assert cursor.fetchall() == [("warn", "be kind", "Offender")]


def test_on_sqlite_erasing_the_subject_is_the_one_allowed_change(sqlite) -> None:
    with sqlite.cursor() as cursor:
        cursor.execute("INSERT INTO moderation_decision (action, reason, subject_handle, "
                       "created_at, subject_id, moderator_id) VALUES ('warn', 'be kind', "
                       "'Offender', '2026-11-28 08:00:00', 7, 8)")
        cursor.execute("UPDATE moderation_decision SET subject_handle = 'deleted-abcdef', "
                       "subject_id = NULL")
        cursor.execute("UPDATE moderation_decision SET moderator_id = NULL")
        cursor.execute("SELECT subject_handle, subject_id, moderator_id FROM "
                       "moderation_decision")
        assert cursor.fetchall() == [("deleted-abcdef", None, None)]
