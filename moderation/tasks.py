"""Celery tasks of the moderation app."""
from celery import shared_task
from django.db import DatabaseError
from redis.exceptions import RedisError

from moderation import analysis


@shared_task(autoretry_for=(RedisError, DatabaseError), retry_backoff=True, max_retries=5,
             ignore_result=True)
def analyse_pending() -> int:
    """Score the lines waiting for analysis; safe to run twice or concurrently."""
    return analysis.drain_pending()
