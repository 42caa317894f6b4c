from django.core.management.base import BaseCommand

from chat.history import purge_expired_exports


class Command(BaseCommand):
    help = "Delete history exports whose download link has expired."

    def handle(self, *args: object, **options: object) -> None:
        self.stdout.write(f"purged {purge_expired_exports()} expired export(s)")
