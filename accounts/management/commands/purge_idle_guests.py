from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.retention import purge_idle_guests


class Command(BaseCommand):
    help = "Delete guest accounts not seen for GUEST_RETENTION_DAYS days."

    def handle(self, *args: Any, **options: Any) -> None:
        purged = purge_idle_guests()
        self.stdout.write(f"purged {purged} guest account(s) idle for more than "
                          f"{settings.GUEST_RETENTION_DAYS} days")
