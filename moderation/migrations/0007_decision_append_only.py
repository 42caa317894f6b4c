"""The audit log is append-only in the database, not only in Python (issue 11, finding 4).

Triggers refuse DELETE and UPDATE on moderation_decision, on PostgreSQL and SQLite. One update
is allowed, because the database itself makes it when an account or a report is deleted:
a reference to a deleted user or report becomes NULL (on_delete=SET_NULL), and when the
subject's reference is cleared, the handle may at the same time become the erased account's
pseudonym (`deleted-…`, accounts.deletion). Nothing else in a row can change.
"""
from typing import Any

from django.db import migrations

TABLE = "moderation_decision"
MESSAGE = "moderation decisions are append-only"


def unchanged_or_cleared(column: str, same: str) -> str:
    return f"(NEW.{column} {same} OLD.{column} OR NEW.{column} IS NULL)"


def allowed_update(same: str) -> str:
    """The one permitted change, as an SQL condition; `same` is the null-safe equality."""
    fixed = " AND ".join(f"NEW.{column} {same} OLD.{column}"
                         for column in ("id", "action", "reason", "until", "created_at",
                                        "reviews_id"))
    cleared = " AND ".join(unchanged_or_cleared(column, same)
                           for column in ("moderator_id", "report_id", "subject_id"))
    handle = ("(NEW.subject_handle = OLD.subject_handle OR (OLD.subject_id IS NOT NULL AND "
              "NEW.subject_id IS NULL AND NEW.subject_handle LIKE 'deleted-%'))")
    return f"{fixed} AND {cleared} AND {handle}"


POSTGRESQL = [f"""
CREATE OR REPLACE FUNCTION moderation_decision_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND {allowed_update('IS NOT DISTINCT FROM')} THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'restrict_violation';
END $$ LANGUAGE plpgsql;
""", f"""
CREATE TRIGGER moderation_decision_append_only BEFORE UPDATE OR DELETE ON {TABLE}
FOR EACH ROW EXECUTE FUNCTION moderation_decision_append_only();
"""]
POSTGRESQL_REVERSE = [f"DROP TRIGGER IF EXISTS moderation_decision_append_only ON {TABLE};",
                      "DROP FUNCTION IF EXISTS moderation_decision_append_only();"]

SQLITE = [f"""
CREATE TRIGGER moderation_decision_no_delete BEFORE DELETE ON {TABLE}
BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;
""", f"""
CREATE TRIGGER moderation_decision_no_update BEFORE UPDATE ON {TABLE}
WHEN NOT ({allowed_update('IS')})
BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;
"""]
SQLITE_REVERSE = ["DROP TRIGGER IF EXISTS moderation_decision_no_delete;",
                  "DROP TRIGGER IF EXISTS moderation_decision_no_update;"]

FORWARD = {"postgresql": POSTGRESQL, "sqlite": SQLITE}
REVERSE = {"postgresql": POSTGRESQL_REVERSE, "sqlite": SQLITE_REVERSE}


def install(apps: Any, schema_editor: Any) -> None:
    for statement in FORWARD.get(schema_editor.connection.vendor, []):
        schema_editor.execute(statement, params=None)


def remove(apps: Any, schema_editor: Any) -> None:
    for statement in REVERSE.get(schema_editor.connection.vendor, []):
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ("moderation", "0006_report_evidence_escape"),
    ]

    operations = [migrations.RunPython(install, remove, elidable=False)]
