"""What the check before a persistent PostgreSQL connection is reused costs, and what it buys.

For each variant, on a connection kept open (`CONN_MAX_AGE` 60) as daphne's are:
- `off`: Django with `CONN_HEALTH_CHECKS` off;
- `select1`: Django's check (`SELECT 1` before each reuse);
- `poll`: the site's engine, `chatsite.plumbing.postgresql` (polls the socket, asks the
  server only when something is waiting on it).
Figures: statements sent for 1,000 calls of one query (each call closes old connections
before and after, as a request or `database_sync_to_async` does), microseconds per call (best
of 7 x 2,000), and how often the first query fails after a TCP proxy in front of PostgreSQL
dropped every connection while the process was idle (a restart), out of 20.

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python bench/db_health_check.py
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")

import django  # noqa: E402
import psycopg  # noqa: E402

django.setup()

from django.db import DatabaseError  # noqa: E402
from django.db.utils import ConnectionHandler  # noqa: E402

from tests.faults import TcpProxy  # noqa: E402

URL = urlparse(os.environ.get("BENCH_DATABASE_URL",
                              "postgres://postgres@127.0.0.1:5432/postgres"))
VARIANTS = {"off": ("django.db.backends.postgresql", False),
            "select1": ("django.db.backends.postgresql", True),
            "poll": ("chatsite.plumbing.postgresql", True)}


def call(db) -> None:  # noqa: ANN001 - a DatabaseWrapper
    db.close_if_unusable_or_obsolete()
    with db.cursor() as cursor:
        cursor.execute("SELECT 2")
        cursor.fetchone()
    db.close_if_unusable_or_obsolete()


def measure(name: str, proxy: TcpProxy) -> str:
    engine, checks = VARIANTS[name]
    handler = ConnectionHandler({"default": {
        "ENGINE": engine, "NAME": URL.path.lstrip("/"), "USER": URL.username or "",
        "PASSWORD": URL.password or "", "HOST": "127.0.0.1", "PORT": proxy.port,
        "CONN_MAX_AGE": 60, "CONN_HEALTH_CHECKS": checks}})
    db = handler["default"]
    call(db)
    sent = [0]
    execute = psycopg.Cursor.execute

    def counted(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        sent[0] += 1
        return execute(self, *args, **kwargs)

    psycopg.Cursor.execute = counted
    try:
        for _ in range(1000):
            call(db)
    finally:
        psycopg.Cursor.execute = execute
    best = float("inf")
    for _ in range(7):
        started = time.perf_counter()
        for _ in range(2000):
            call(db)
        best = min(best, (time.perf_counter() - started) / 2000 * 1e6)
    failed = 0
    for _ in range(20):
        call(db)
        proxy.cut()
        proxy.restore()
        try:
            call(db)
        except DatabaseError:
            failed += 1
    handler.close_all()
    return (f"{name:8} {sent[0]:5} statements / 1000 calls  {best:6.0f} us per call  "
            f"first query failed after a drop: {failed}/20")


def main() -> None:
    proxy = TcpProxy((URL.hostname or "127.0.0.1", URL.port or 5432))
    try:
        for name in VARIANTS:
            print(measure(name, proxy))
    finally:
        proxy.stop()


if __name__ == "__main__":
    main()
