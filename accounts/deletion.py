"""Deleting an account: what goes, and what stays for moderation under a pseudonym.

Goes: the user's kept history and exports, preferences (on the user row), blocks they made,
their live socket and the user row itself. Stays: reports filed by or about them and
moderation decisions about them, with every handle replaced by a stable pseudonym such as
`deleted-3f9a2c`, so that moderators can still see that several records concern one person.
"""
import hashlib
import hmac
import logging

from django.conf import settings
from django.db import transaction

from accounts.handles import PSEUDONYM_PREFIX
from accounts.models import User
from accounts.signals import account_erasing
from chatsite.plumbing.live import notify_user_on_commit

log = logging.getLogger(__name__)

def pseudonym_for(user_id: int) -> str:
    """The same id always gives the same pseudonym; without SECRET_KEY it cannot be traced back."""
    digest = hmac.new(settings.SECRET_KEY.encode(), f"deleted-account:{user_id}".encode(),
                      hashlib.sha256).hexdigest()
    return PSEUDONYM_PREFIX + digest[:6]


def delete_account(user_id: int) -> bool:
    """Erase the account; False when it is already gone (so a retry does nothing)."""
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        return False
    # An inactive user can neither log in nor open a new socket while the erasure runs.
    User.objects.filter(pk=user_id).update(is_active=False)
    with transaction.atomic():
        # Kept history (chat) and the handle in moderation records go in the same transaction.
        account_erasing.send(sender=User, user=user, pseudonym=pseudonym_for(user_id))
        user.blocks_made.all().delete()
        user.delete()
        # The live socket is told once the account is really gone (a rolled-back erasure
        # leaves it chatting); a channel layer that is down does not undo the erasure.
        notify_user_on_commit(user_id, {"type": "chat.account_closed"})
    log.info("account %s deleted", user_id)
    return True
