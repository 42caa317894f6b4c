"""`manage.py create_moderators_group`: the least privilege moderators need, idempotently."""
import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import CommandError, call_command

from accounts.models import User

pytestmark = pytest.mark.django_db

EXPECTED = {"view_report", "decide_report", "view_decision", "view_appeal", "review_appeal",
            "view_ban", "view_mute"}


def group_permissions() -> set[str]:
    return set(Group.objects.get(name="Moderators").permissions
               .values_list("codename", flat=True))


def test_command_creates_the_group_with_only_the_moderation_permissions_it_needs() -> None:
    call_command("create_moderators_group")
    assert group_permissions() == EXPECTED


def test_running_it_again_changes_nothing_and_takes_back_extra_permissions() -> None:
    call_command("create_moderators_group")
    group = Group.objects.get(name="Moderators")
    group.permissions.add(Permission.objects.get(codename="delete_report"))
    call_command("create_moderators_group")
    call_command("create_moderators_group")
    assert Group.objects.filter(name="Moderators").count() == 1
    assert group_permissions() == EXPECTED


def test_add_makes_accounts_staff_moderators() -> None:
    User.objects.create(username="keeper")
    call_command("create_moderators_group", "--add", "keeper")
    keeper = User.objects.get(username="keeper")
    assert keeper.is_staff and not keeper.is_superuser
    assert keeper.groups.filter(name="Moderators").exists()


def test_adding_an_unknown_account_is_refused() -> None:
    with pytest.raises(CommandError, match="nobody"):
        call_command("create_moderators_group", "--add", "nobody")


def test_a_moderator_works_the_queue_but_edits_nothing_by_hand(client) -> None:
    User.objects.create(username="keeper")
    call_command("create_moderators_group", "--add", "keeper")
    client.force_login(User.objects.get(username="keeper"))
    for url in ("/admin/moderation/report/", "/admin/moderation/decision/",
                "/admin/moderation/appeal/", "/admin/moderation/ban/"):
        assert client.get(url).status_code == 200, url
    for url in ("/admin/moderation/report/add/", "/admin/moderation/decision/add/",
                "/admin/auth/group/", "/admin/auth/group/add/"):
        assert client.get(url).status_code == 403, url
    keeper = User.objects.get(username="keeper")
    for perm in ("moderation.change_report", "moderation.delete_report",
                 "moderation.change_decision", "moderation.delete_decision",
                 "moderation.add_ban", "accounts.view_user", "auth.change_group"):
        assert not keeper.has_perm(perm), perm
