from django.core.management.base import BaseCommand

from chat.history import rotate_history_keys


class Command(BaseCommand):
    help = ("Re-encrypt kept history and exports with the first key of HISTORY_KEYS; after it, "
            "older keys may be removed from HISTORY_KEYS.")

    def handle(self, *args: object, **options: object) -> None:
        self.stdout.write(f"re-encrypted {rotate_history_keys()} item(s) with the newest key")
