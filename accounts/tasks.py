from celery import shared_task

from accounts import retention


@shared_task(acks_late=True)
def purge_idle_guests() -> int:
    """Beat runs this (CELERY_BEAT_SCHEDULE); running it twice deletes nothing twice."""
    return retention.purge_idle_guests()
