"""The Celery app of the project, how its workers log, and their runtime's end.

A worker logs through settings.LOGGING, as daphne and manage.py do: Celery's default replaces
the root handlers with its own, which lack chatsite.plumbing.logging's filter, so a failed task's
database error (quoting the row: chat text, notes, handles) would reach the worker's log.
"""
import logging
import logging.config
import os
from typing import Any

from celery import Celery
from celery.signals import setup_logging, worker_process_shutdown, worker_shutdown
from django.conf import settings

from chatsite.plumbing.runtime import runtime

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")

app = Celery("chatsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Kept history is a package of the chat app, not an app of its own.
app.autodiscover_tasks(["chat.history"])


@setup_logging.connect
def project_logging(loglevel: int | str | None = None, **_: Any) -> None:
    """With a receiver connected, Celery leaves the handlers alone; the worker's
    `--loglevel` still sets the root level, as an operator starting it expects."""
    logging.config.dictConfig(settings.LOGGING)
    if loglevel:
        logging.getLogger().setLevel(loglevel)


@worker_process_shutdown.connect
@worker_shutdown.connect
def close_runtime(**_: Any) -> None:
    """A worker (process) that stops closes its runtime's Redis clients."""
    runtime().close()
