"""Log records without user text: installed as a filter on every handler in LOGGING.

A failed database write is the usual way chat text, notes and handles reach a log: the
database's message quotes the row (`DETAIL: Key (username)=(...)`, `CONTEXT: JSON data ...`,
the statement with its values inlined), and `django.db.backends` logs each statement with its
parameters. This filter keeps what an operator needs (the logger, the error's class, its
SQLSTATE and the first words of its message) and drops the rest.
"""
from __future__ import annotations

import logging
import sqlite3
import sys
import traceback
from collections.abc import Mapping
from typing import Any

import psycopg
from django.db import Error as DjangoDatabaseError

DATABASE_ERRORS: tuple[type[BaseException], ...] = (DjangoDatabaseError, psycopg.Error,
                                                    sqlite3.Error)
SUMMARY_MAX_LENGTH = 200
REDACTED = "[redacted]"


def _first_words(message: str) -> str:
    """A database message's first line up to its first `: `, after which PostgreSQL and
    SQLite quote values (`invalid input syntax for type uuid: "..."`)."""
    return message.split("\n", 1)[0].split(": ", 1)[0][:SUMMARY_MAX_LENGTH]


def database_error_summary(error: BaseException) -> str:
    """`DataError [22P05]: unsupported Unicode escape sequence`: the class, the SQLSTATE and
    the first words of the message."""
    text = _first_words(str(error))
    cause = error.__cause__ if isinstance(error, DjangoDatabaseError) else error
    state = getattr(getattr(cause, "diag", None), "sqlstate", None)
    return f"{type(error).__name__}{f' [{state}]' if state else ''}: {text}"


def database_error_in(error: BaseException | None) -> BaseException | None:
    """The database error `error` is, wraps (Celery's `Retry.exc`) or was caused by."""
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        if isinstance(current, DATABASE_ERRORS):
            return current
        seen.add(id(current))
        pending += [getattr(current, "exc", None), current.__cause__, current.__context__]
    return None


def _scrub_traceback(exception: traceback.TracebackException) -> None:
    seen: set[int] = set()
    pending = [exception]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if issubclass(current.exc_type or type(None), DATABASE_ERRORS):
            # TracebackException keeps the message it prints in `_str` (CPython 3.11+).
            current._str = _first_words(str(getattr(current, "_str", "")))
        pending += [chained for chained in (current.__cause__, current.__context__)
                    if chained is not None]


def scrubbed_exception_text(exc_info: Any) -> str:
    """The traceback of `exc_info` with every database error's message cut to its summary."""
    exception = traceback.TracebackException(*exc_info, capture_locals=False)
    _scrub_traceback(exception)
    return "".join(exception.format()).rstrip("\n")


class RedactUserText(logging.Filter):
    """Strips statement parameters and database error details from every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("django.db.backends"):
            self._redact_statement(record)
        if isinstance(record.args, Mapping):
            self._redact_mapping(record)
        elif record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            if any(isinstance(arg, DATABASE_ERRORS) for arg in args):
                record.args = tuple(database_error_summary(arg)
                                    if isinstance(arg, DATABASE_ERRORS) else arg
                                    for arg in args)
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = scrubbed_exception_text(record.exc_info)
        return True

    @staticmethod
    def _redact_mapping(record: logging.LogRecord) -> None:
        # Celery logs a failed or retried task as `%(exc)s` from a dict holding the error's
        # repr and traceback text (also as `record.data`); a retry's record carries no
        # exc_info, but it is logged while the error is being handled.
        error = database_error_in(record.exc_info[1] if record.exc_info else None)
        error = error or database_error_in(sys.exc_info()[1])
        if error is None:
            return
        summary = database_error_summary(error)
        quoted = [text for text in (repr(error), str(error)) if text]

        def redact(value: object) -> object:
            if isinstance(value, str):
                for text in quoted:
                    value = value.replace(text, summary)
            return value

        redacted = {key: redact(value) for key, value in record.args.items()}
        if getattr(record, "data", None) is record.args:
            record.data = redacted
        record.args = redacted

    @staticmethod
    def _redact_statement(record: logging.LogRecord) -> None:
        # Django logs `(duration) sql; args=params; alias=alias` with the values inlined
        # into `sql` by the driver; only the statement's kind and duration are kept.
        sql = getattr(record, "sql", None)
        if sql is None:
            record.msg, record.args = "database statement (%s)", (REDACTED,)
            return
        verb = str(sql).lstrip().split(" ", 1)[0].upper()[:16]
        duration = getattr(record, "duration", None)
        record.msg = "(%s) %s statement; params redacted; alias=%s"
        record.args = (f"{duration:.3f}" if isinstance(duration, float) else "?", verb,
                       getattr(record, "alias", "?"))
        record.sql = f"{verb} {REDACTED}"
        record.params = REDACTED
