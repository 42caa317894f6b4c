"""Celery tasks for history: small, idempotent, and given ids, not objects."""
from __future__ import annotations

from celery import shared_task
from django.db import DatabaseError

from chat import history
from chat.history import export


@shared_task(bind=True, autoretry_for=(DatabaseError,), retry_backoff=True, max_retries=3,
             acks_late=True)
def build_export(self, export_id: str) -> None:  # noqa: ANN001 - Celery's task instance
    try:
        export.build_export(export_id)
    except DatabaseError:
        if self.request.retries >= self.max_retries:
            export.mark_export_failed(export_id, "the database was unavailable")
        raise
    except Exception as error:
        export.mark_export_failed(export_id, f"could not build the export ({type(error).__name__})")
        raise


@shared_task
def purge_old_history() -> int:
    return history.purge_old_history()


@shared_task
def purge_expired_exports() -> int:
    return history.purge_expired_exports()
