"""What `/healthz` checks: the database, the channel layer and the Celery broker."""
import asyncio
import logging
import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection

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


async def _layer_round_trip() -> None:
    layer = get_channel_layer()
    channel = await layer.new_channel("healthz.")
    token = uuid.uuid4().hex
    await layer.send(channel, {"type": "healthz", "token": token})
    message = await asyncio.wait_for(layer.receive(channel), timeout=2)
    if message.get("token") != token:
        raise RuntimeError("channel layer returned another message")


def channel_layer_state() -> str:
    try:
        async_to_sync(_layer_round_trip)()
        return OK
    except Exception:
        return DOWN


def broker_state() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "eager"
    from chatsite.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return OK
    except Exception:
        return DOWN


def health() -> dict[str, str]:
    return {"database": database_state(), "channel_layer": channel_layer_state(),
            "broker": broker_state()}
