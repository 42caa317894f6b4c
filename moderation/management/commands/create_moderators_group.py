"""Create (or bring back to exactly its permissions) the `Moderators` group."""
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand, CommandError, CommandParser

GROUP_NAME = "Moderators"
# Least privilege: read the queue and the audit log, decide reports and appeals. Nothing
# may be added, changed or deleted by hand; decisions go through the admin actions.
MODERATOR_PERMISSIONS = (
    ("moderation", "view_report"),
    ("moderation", "decide_report"),
    ("moderation", "view_decision"),
    ("moderation", "view_appeal"),
    ("moderation", "review_appeal"),
    ("moderation", "view_ban"),
    ("moderation", "view_mute"),
)


def ensure_moderators_group() -> Group:
    group, _ = Group.objects.get_or_create(name=GROUP_NAME)
    permissions = [Permission.objects.get(content_type__app_label=app, codename=codename)
                   for app, codename in MODERATOR_PERMISSIONS]
    group.permissions.set(permissions)
    return group


class Command(BaseCommand):
    help = "Create the Moderators group with the least privilege it needs (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--add", nargs="*", default=[], metavar="HANDLE",
                            help="also make these accounts moderators (staff, in the group)")

    def handle(self, *args: Any, add: list[str], **options: Any) -> None:
        group = ensure_moderators_group()
        users = get_user_model().objects.filter(username__in=add)
        missing = set(add) - {user.username for user in users}
        if missing:
            raise CommandError(f"no such account: {', '.join(sorted(missing))}")
        for user in users:
            user.is_staff = True
            user.save(update_fields=["is_staff"])
            user.groups.add(group)
        self.stdout.write(f"{GROUP_NAME}: {group.permissions.count()} permissions"
                          + (f"; added {', '.join(add)}" if add else ""))
