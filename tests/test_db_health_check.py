"""The check before a persistent PostgreSQL connection is reused (chatsite.plumbing.postgresql):
a healthy connection is reused without a `SELECT 1` round trip, and after PostgreSQL dropped
every connection while the process was idle (a restart) the next query still succeeds."""
from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from django.db import connection
from django.db.utils import ConnectionHandler

from tests.faults import TcpProxy

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("postgres")]


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    db = connection.settings_dict
    proxy = TcpProxy((db["HOST"], int(db["PORT"])))
    yield proxy
    proxy.stop()


@pytest.fixture
def persistent(proxy: TcpProxy) -> Iterator:
    """A connection as daphne's are: the site's engine, kept 60 s, health checks on."""
    db = connection.settings_dict
    handler = ConnectionHandler({"default": {
        **db, "ENGINE": "chatsite.plumbing.postgresql",
        "HOST": "127.0.0.1", "PORT": proxy.port, "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True}})
    yield handler["default"]
    handler.close_all()


def request(db) -> int:  # noqa: ANN001 - a DatabaseWrapper
    """One request or `database_sync_to_async` call: old connections checked, one query."""
    db.close_if_unusable_or_obsolete()
    with db.cursor() as cursor:
        cursor.execute("SELECT 2")
        (value,) = cursor.fetchone()
    db.close_if_unusable_or_obsolete()
    return value


def test_a_healthy_connection_is_reused_without_a_round_trip(persistent, monkeypatch) -> None:
    request(persistent)
    sent: list[str] = []
    execute = psycopg.Cursor.execute

    def counted(self, query, *args, **kwargs):  # noqa: ANN001, ANN202 - psycopg's signature
        sent.append(str(query))
        return execute(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", counted)
    for _ in range(20):
        assert request(persistent) == 2
    assert sent == ["SELECT 2"] * 20


def test_after_postgres_dropped_idle_connections_the_next_query_works(persistent,
                                                                       proxy) -> None:
    for _ in range(5):
        assert request(persistent) == 2
        proxy.cut()  # every connection dropped while nobody asked anything
        proxy.restore()
        assert request(persistent) == 2
