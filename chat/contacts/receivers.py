"""Contacts end when something outside this app happens to their people.

A block (from a conversation or from the contacts page) ends the pair's contact; a ban ends
every contact of the banned user (invitations go with them) and their unanswered asks to keep
in touch; an account deletion ends its contacts (the rows, asks and invitations go by CASCADE)
and each other side hears `contact_removed`. Moderation and accounts know nothing of
contacts: these listen to their models' signals. A new invitation is also pushed (web push)
to an invitee whose tab is gone by the time the task runs.
"""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models.signals import post_save, pre_delete
from django.dispatch import receiver

from chat.contacts import consent, services, tasks
from chat.contacts.models import Invitation
from chat.models import Block
from moderation.models import Ban


@receiver(post_save, sender=Block, dispatch_uid="contacts-end-on-block")
def end_contact_on_block(sender: type[Block], instance: Block, created: bool,
                         **kwargs: Any) -> None:
    if created:
        services.remove_between(instance.blocker_id, instance.blocked_id)


@receiver(post_save, sender=Ban, dispatch_uid="contacts-end-on-ban")
def end_contacts_on_ban(sender: type[Ban], instance: Ban, created: bool, **kwargs: Any) -> None:
    if created:
        services.remove_all(instance.user_id)  # their invitations go with the contacts
        consent.forget_asks_of(instance.user_id)


@receiver(pre_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="contacts-end-on-delete")
def end_contacts_on_delete(sender: Any, instance: Any, **kwargs: Any) -> None:
    services.remove_all(instance.pk)


@receiver(post_save, sender=Invitation, dispatch_uid="contacts-push-invitation")
def push_new_invitation(sender: type[Invitation], instance: Invitation, created: bool,
                        **kwargs: Any) -> None:
    if created:
        tasks.queue_push_invitation(instance.pk)
