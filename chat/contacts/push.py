"""Web push (optional): browsers' push subscriptions and the notices sent to them.

Present only when both VAPID keys are set. A notice never carries what a user wrote: a
letter's notice says "New letter from <handle>", an invitation's "<handle> invites you to
talk". Endpoints are the browser vendors' push services; the server only ever POSTs to hosts
listed in PUSH_ENDPOINT_HOSTS, so a subscription cannot point it at an internal address.
"""
from __future__ import annotations

import base64
import binascii
import json
import logging
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction

from chat.contacts.models import Invitation, Letter, PushSubscription

log = logging.getLogger(__name__)

ENDPOINT_MAX_LENGTH = 1000
# Uncompressed P-256 point, and the 16-byte auth secret (RFC 8291).
P256DH_BYTES = 65
AUTH_BYTES = 16
# Push services answer these when a subscription is gone for good.
GONE_STATUSES = frozenset({404, 410})


class PushError(ValueError):
    """A subscription was refused; nothing was stored."""


def enabled() -> bool:
    return bool(settings.VAPID_PUBLIC_KEY and settings.VAPID_PRIVATE_KEY)


def _b64url_bytes(value: Any) -> bytes | None:
    if not isinstance(value, str) or len(value) > 200:
        return None
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return None


def endpoint_allowed(endpoint: str) -> bool:
    """An https URL on a listed push service (a host or a parent domain of it)."""
    parts = urlsplit(endpoint)
    host = (parts.hostname or "").lower()
    if not host or parts.username or parts.password:
        return False
    local = host in {"127.0.0.1", "localhost", "::1"}
    if parts.scheme != "https" and not (local and parts.scheme == "http"):
        return False
    return any(host == allowed or host.endswith("." + allowed)
               for allowed in settings.PUSH_ENDPOINT_HOSTS)


def subscribe(user_id: int, data: Any) -> PushSubscription:
    """Store the browser's subscription (`PushSubscription.toJSON()`) for the user."""
    if not enabled():
        raise PushError("notifications are not available here")
    if not isinstance(data, dict) or not isinstance(data.get("keys"), dict):
        raise PushError("a subscription needs an endpoint and keys")
    endpoint = data.get("endpoint")
    if not isinstance(endpoint, str) or len(endpoint) > ENDPOINT_MAX_LENGTH \
            or not endpoint_allowed(endpoint):
        raise PushError("that is not a push service this site sends to")
    p256dh, auth = data["keys"].get("p256dh"), data["keys"].get("auth")
    key_bytes, auth_bytes = _b64url_bytes(p256dh), _b64url_bytes(auth)
    if key_bytes is None or len(key_bytes) != P256DH_BYTES or key_bytes[0] != 4:
        raise PushError("keys.p256dh is not a P-256 public key")
    if auth_bytes is None or len(auth_bytes) != AUTH_BYTES:
        raise PushError("keys.auth is not a 16-byte secret")
    try:
        with transaction.atomic():
            subscription, _ = PushSubscription.objects.update_or_create(
                user_id=user_id, endpoint=endpoint, defaults={"p256dh": p256dh, "auth": auth})
    except IntegrityError:
        subscription = PushSubscription.objects.get(user_id=user_id, endpoint=endpoint)
    return subscription


def unsubscribe(user_id: int, endpoint: Any) -> int:
    if not isinstance(endpoint, str):
        return 0
    deleted, _ = PushSubscription.objects.filter(user_id=user_id, endpoint=endpoint).delete()
    return deleted


def send(user_id: int, notice: dict[str, str]) -> int:
    """Push `notice` ({"title", "url"}) to each of the user's browsers; returns how many took it.

    A subscription the push service says is gone is deleted."""
    if not enabled():
        return 0
    # Imported here, not at the top: pywebpush (with the aiohttp and requests it loads) is
    # 0.3 s of start-up for every daphne process, and only a push's sender needs it.
    from pywebpush import WebPushException, webpush
    from requests import RequestException

    delivered = 0
    payload = json.dumps(notice)
    for subscription in PushSubscription.objects.filter(user_id=user_id):
        info = {"endpoint": subscription.endpoint,
                "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth}}
        try:
            webpush(info, payload, vapid_private_key=settings.VAPID_PRIVATE_KEY,
                    vapid_claims={"sub": settings.VAPID_SUBJECT},
                    ttl=settings.PUSH_TTL_SECONDS, timeout=settings.PUSH_TIMEOUT_SECONDS)
            delivered += 1
        except WebPushException as error:
            status = getattr(error.response, "status_code", None)
            if status in GONE_STATUSES:
                subscription.delete()
            else:
                log.warning("push to subscription %s failed with status %s",
                            subscription.pk, status)
        except RequestException as error:
            # One unreachable push service must not hold up the user's other browsers.
            log.warning("push to subscription %s failed: %s", subscription.pk,
                        type(error).__name__)
    return delivered


def letter_notice(letter_id: Any) -> tuple[int, dict[str, str]] | None:
    """(recipient, notice) for an unread letter; None when it is gone or already read."""
    letter = (Letter.objects.filter(pk=letter_id, read_at__isnull=True)
              .select_related("contact", "sender").first())
    if letter is None:
        return None
    recipient = letter.contact.partner_id(letter.sender_id)
    return recipient, {"title": f"New letter from {letter.sender.username}",
                       "url": f"/contacts/{letter.contact_id}/", "tag": f"letter-{letter.pk}"}


def invitation_notice(invitation_id: Any) -> tuple[int, dict[str, str]] | None:
    """(invitee, notice) for a pending invitation; None once it was answered or expired."""
    invitation = (Invitation.objects.filter(pk=invitation_id, state=Invitation.State.PENDING)
                  .select_related("inviter").first())
    if invitation is None:
        return None
    return invitation.invitee_id, {
        "title": f"{invitation.inviter.username} invites you to talk ({invitation.mode})",
        "url": "/chat/", "tag": f"invitation-{invitation.pk}"}
