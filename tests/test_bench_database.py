"""bench/common.py's `ensure_database` migrates a benchmark database once per set of migration
files: a database already migrated to them is used as it is (no `manage.py migrate`, a whole
Django start-up, before each benchmark command), a new one or a changed stamp migrates."""
from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg
import pytest
from psycopg import sql

from bench import common
from conftest import TEST_DATABASE_URL

pytestmark = pytest.mark.postgres


@pytest.fixture
def bench_database(postgres: None) -> Iterator[str]:
    parsed = urlparse(TEST_DATABASE_URL)
    name = f"{parsed.path.strip('/')}_ensure_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    admin = urlunparse(parsed._replace(path="/postgres"))
    drop = sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(drop)
    yield urlunparse(parsed._replace(path=f"/{name}"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(drop)


def test_migrates_a_new_database_once_and_again_when_the_migrations_change(
        bench_database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    migrations: list[list[str]] = []

    def run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        assert argv[1:] == ["manage.py", "migrate", "--noinput"]
        migrations.append(argv)
        return subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setattr(common.subprocess, "run", run)
    common.ensure_database(bench_database)
    assert len(migrations) == 1  # created, then migrated
    common.ensure_database(bench_database)
    assert len(migrations) == 1  # already migrated to these files
    monkeypatch.setattr(common, "migrations_stamp", lambda: "migrated another-set")
    common.ensure_database(bench_database)
    assert len(migrations) == 2


def test_a_failed_migration_leaves_no_stamp(bench_database: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    def run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(argv, 1, "", "no")

    monkeypatch.setattr(common.subprocess, "run", run)
    for _ in range(2):  # and so the next command tries again
        with pytest.raises(RuntimeError, match="migrate failed"):
            common.ensure_database(bench_database)


def test_the_stamp_follows_the_migration_files(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common, "ROOT", tmp_path)
    migrations = tmp_path / "app" / "migrations"
    migrations.mkdir(parents=True)
    (migrations / "0001_initial.py").write_text("operations = []\n")
    (tmp_path / ".venv" / "x" / "migrations").mkdir(parents=True)  # not the project's
    first = common.migrations_stamp()
    assert first.startswith("migrated ") and first == common.migrations_stamp()
    (tmp_path / ".venv" / "x" / "migrations" / "0001_initial.py").write_text("# other\n")
    assert common.migrations_stamp() == first
    (migrations / "0001_initial.py").write_text("operations = [1]\n")
    changed = common.migrations_stamp()
    assert changed != first
    (migrations / "0002_more.py").write_text("operations = [1]\n")
    assert common.migrations_stamp() not in {first, changed}
