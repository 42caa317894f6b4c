"""What `/healthz` checks: the database, the channel layer and the Celery broker."""
import logging

import redis
from django.conf import settings
from django.db import connection

from chatsite.celery import app

log = logging.getLogger(__name__)

OK = "ok"
DOWN = "down"


def database_state() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return OK
    except Exception:
        log.warning("healthz: database down", exc_info=True)
        return DOWN


def channel_layer_state() -> str:
    # A receive here would compete with the consumers' own receive loop on the process's
    # shared channel, so the check asks the layer's Redis directly.
    if not settings.REDIS_URL:
        return OK
    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2,
                                      socket_connect_timeout=2)
        client.ping()
        client.close()
        return OK
    except Exception:
        log.warning("healthz: channel layer down", exc_info=True)
        return DOWN


def broker_state() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "eager"
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return OK
    except Exception:
        return DOWN


def health() -> dict[str, str]:
    return {"database": database_state(), "channel_layer": channel_layer_state(),
            "broker": broker_state()}
