from django.core.management.base import BaseCommand

from chat.history import purge_old_history


class Command(BaseCommand):
    help = "Delete kept conversations older than HISTORY_RETENTION_DAYS."

    def handle(self, *args: object, **options: object) -> None:
        self.stdout.write(f"purged {purge_old_history()} kept conversation(s)")
