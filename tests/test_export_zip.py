"""The large-record export: a Celery task builds one zip, the page shows progress, the link
expires, and nobody else can reach it."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import uuid
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from chat.models import HistoryExport
from tests.kept import keep, logged_in, make_user

pytestmark = [pytest.mark.postgres]

ROOT = Path(__file__).resolve().parent.parent
LINES = ["first ✨", "مرحبا", "=1+1", "<i>last</i>"]


@pytest.fixture(autouse=True)
def _real_postgres(postgres: None) -> None:
    pass


def assert_zip_holds_the_record(data: bytes, handle: str) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        assert sorted(name.rsplit(".", 1)[1] for name in names) == ["csv", "html", "json"]
        files = {name.rsplit(".", 1)[1]: archive.read(name).decode() for name in names}
    document = json.loads(files["json"])
    assert document["format"] == "chat-record" and document["user"]["handle"] == handle
    assert [m["text"] for m in document["conversations"][0]["messages"]] == LINES
    assert "&lt;i&gt;last&lt;/i&gt;" in files["html"]
    assert "'=1+1" in files["csv"]


@pytest.mark.django_db(transaction=True)  # the export is queued on commit
def test_zip_export_is_built_and_downloaded_through_the_progress_page() -> None:
    owner = make_user("zipper")
    keep(owner, LINES)
    client = logged_in(owner)
    response = client.post("/account/export/")
    assert response.status_code == 302
    progress_url = response["Location"]
    job = HistoryExport.objects.get(owner=owner)
    assert progress_url == f"/account/export/{job.pk}/"
    assert b"export-progress" in client.get(progress_url).content
    status = client.get(progress_url + "status").json()
    assert status["status"] == "ready" and status["progress"] == 100
    assert status["download"] == progress_url + "download" and status["expires_at"]
    download = client.get(status["download"])
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    assert_zip_holds_the_record(download.content, "zipper")


@pytest.mark.django_db(transaction=True)  # the export is queued on commit
def test_stored_zip_is_encrypted_at_rest() -> None:
    owner = make_user("sealed")
    keep(owner, ["a very private sentence"])
    logged_in(owner).post("/account/export/")
    with connection.cursor() as cursor:
        cursor.execute("SELECT zip_encrypted FROM chat_historyexport")
        stored = bytes(cursor.fetchone()[0])
    assert not stored.startswith(b"PK") and b"private" not in stored


@pytest.mark.django_db(transaction=True)  # the export is queued on commit
def test_download_link_expires() -> None:
    owner = make_user("late")
    keep(owner, LINES)
    client = logged_in(owner)
    client.post("/account/export/")
    job = HistoryExport.objects.get(owner=owner)
    HistoryExport.objects.filter(pk=job.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1))
    response = client.get(f"/account/export/{job.pk}/download")
    assert response.status_code == 410 and b"expired" in response.content


@pytest.mark.django_db(transaction=True)  # the export is queued on commit
def test_another_users_export_answers_404() -> None:
    owner, intruder = make_user("owner"), make_user("intruder")
    keep(owner, LINES)
    logged_in(owner).post("/account/export/")
    job = HistoryExport.objects.get(owner=owner)
    client = logged_in(intruder)
    for suffix in ("", "status", "download"):
        assert client.get(f"/account/export/{job.pk}/{suffix}").status_code == 404
    assert client.get(f"/account/export/{uuid.uuid4()}/download").status_code == 404


@pytest.mark.django_db(transaction=True)  # the export is queued on commit
def test_running_the_task_again_for_a_finished_export_changes_nothing() -> None:
    from chat.history.tasks import build_export

    owner = make_user("again")
    keep(owner, LINES)
    logged_in(owner).post("/account/export/")
    job = HistoryExport.objects.get(owner=owner)
    build_export.delay(str(job.pk))
    again = HistoryExport.objects.get(pk=job.pk)
    assert (again.finished_at, bytes(again.zip_encrypted)) == (
        job.finished_at, bytes(job.zip_encrypted))


@pytest.mark.django_db(transaction=True)
def test_a_real_celery_worker_builds_the_zip(redis_url: str) -> None:
    from chat.history.tasks import build_export
    from chatsite.celery import app

    owner = make_user("worker-made")
    keep(owner, LINES)
    job = HistoryExport.objects.create(owner=owner,
                                       expires_at=timezone.now() + timedelta(hours=1))
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update({"DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
                "REDIS_URL": redis_url, "SECRET_KEY": django_settings.SECRET_KEY,
                "DATABASE_CONN_MAX_AGE": "0"})
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "chatsite", "worker", "--pool=solo",
         "--concurrency=1", "--without-gossip", "--without-mingle", "--without-heartbeat",
         "-l", "WARNING"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    eager, app.conf.task_always_eager = app.conf.task_always_eager, False
    try:
        with app.connection_for_write(redis_url) as broker:
            build_export.apply_async(args=[str(job.pk)], connection=broker)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            job.refresh_from_db()
            if job.status in (HistoryExport.Status.READY, HistoryExport.Status.FAILED):
                break
            time.sleep(0.3)
    finally:
        app.conf.task_always_eager = eager
        worker.terminate()
        output = worker.communicate(timeout=20)[0].decode(errors="replace")
    assert job.status == HistoryExport.Status.READY, output
    download = logged_in(owner).get(f"/account/export/{job.pk}/download")
    assert_zip_holds_the_record(download.content, "worker-made")
