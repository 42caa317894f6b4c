from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest

from accounts.addresses import client_address
from moderation.bans import remember_signin_address


@receiver(user_logged_in)
def remember_address_for_bans(sender: Any, request: HttpRequest | None, user: Any,
                              **kwargs: Any) -> None:
    if request is not None:
        remember_signin_address(user.pk, client_address(request))
