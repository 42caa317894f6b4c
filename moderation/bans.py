"""Bans and mutes: issuing them, telling the live socket, and checking them.

A ban takes effect at once on every server process: after the transaction commits, the user's
live socket (wherever it is) is told through `chatsite.plumbing.live`, and answers with
`banned` and a
4003 close.

One ban, every door: `door_refusal` is the one check at guest creation, signup, login, claim
and socket connect. Besides the account's own ban, it refuses accounts made after a ban from
the browser that carries the banned account's marker (a signed cookie, BAN_MARKER_DAYS) and,
for BAN_ADDRESS_HOURS only, from the address the banned account last signed in from.
"""
import hashlib
import hmac
import re
from datetime import UTC, datetime, timedelta
from http.cookies import Morsel, SimpleCookie
from types import MappingProxyType

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from chatsite.plumbing.live import notify_user, notify_user_on_commit
from moderation.models import Ban, Decision, Mute

_DURATION = re.compile(r"^\s*(\d+)\s*([mhd])\s*$")
_UNITS = MappingProxyType({"m": 60, "h": 3600, "d": 86400})


def parse_duration(text: str) -> timedelta:
    """`"24h"` -> 24 hours; minutes (m), hours (h) and days (d)."""
    match = _DURATION.match(text)
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"bad duration {text!r}: expected such as 30m, 24h or 7d")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def ban_durations() -> dict[str, timedelta]:
    """The preset durations a moderator picks from for a temporary ban."""
    return {text: parse_duration(text) for text in settings.BAN_DURATIONS}


def mute_durations() -> dict[str, timedelta]:
    return {text: parse_duration(text) for text in settings.MUTE_DURATIONS}


def _in_force(now: datetime) -> Q:
    return Q(lifted_at__isnull=True) & (Q(until__isnull=True) | Q(until__gt=now))


def active_ban(user_id: int) -> Ban | None:
    """The ban in force on the user (a permanent one first, else the one ending last)."""
    return (Ban.objects.filter(_in_force(timezone.now()), user_id=user_id)
            .order_by(F("until").desc(nulls_first=True)).first())


def active_mute(user_id: int) -> datetime | None:
    """When the user's mute ends, or None when not muted. A permanent mute ends at max."""
    mute = (Mute.objects.filter(_in_force(timezone.now()), user_id=user_id)
            .order_by(F("until").desc(nulls_first=True)).first())
    if mute is None:
        return None
    return mute.until or datetime.max.replace(tzinfo=UTC)


# ---- the client address of banned accounts (kept as a keyed hash, and only briefly)


def address_hash(address: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), b"signin-address:" + address.encode(),
                    hashlib.sha256).hexdigest()


def _signin_address_key(user_id: int) -> str:
    return f"signin-address:{user_id}"


def remember_signin_address(user_id: int, address: str) -> None:
    """Keep a keyed hash of the address a user signed in from, in the cache only, for
    BAN_ADDRESS_HOURS: a ban in that time copies it to refuse new guest sign-ups from there.
    Nothing about the address is stored for accounts that are never banned."""
    if address and address != "unknown":
        cache.set(_signin_address_key(user_id), address_hash(address),
                  timeout=settings.BAN_ADDRESS_HOURS * 3600)


def address_banned(address: str) -> bool:
    """True while a ban in force, issued within BAN_ADDRESS_HOURS, came from this address."""
    return door_refusal(None, None, address, None) is not None


# ---- the marker a banned browser carries

BAN_MARKER_COOKIE = "ban_marker"
_MARKER_SALT = "moderation.bans.marker"


def _marker_signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=_MARKER_SALT)


def marked_user(marker: str | None) -> int | None:
    """The banned account a browser's marker names, if the marker is genuine and not too old."""
    if not marker:
        return None
    try:
        value = _marker_signer().unsign(marker,
                                        max_age=timedelta(days=settings.BAN_MARKER_DAYS))
    except signing.BadSignature:
        return None
    return int(value) if value.isdigit() else None


def marker_morsel(ban: Ban) -> Morsel:
    """The marker cookie for a refused browser; HTTP responses and the socket handshake set it."""
    cookie: SimpleCookie = SimpleCookie()
    cookie[BAN_MARKER_COOKIE] = _marker_signer().sign(str(ban.user_id))
    morsel = cookie[BAN_MARKER_COOKIE]
    morsel.update({"max-age": str(settings.BAN_MARKER_DAYS * 86400), "path": "/",
                   "httponly": True, "samesite": "Lax"})
    if settings.SESSION_COOKIE_SECURE:
        morsel["secure"] = True
    return morsel


# ---- one ban, every door


def door_refusal(user_id: int | None, joined: datetime | None, address: str,
                 marker: str | None) -> Ban | None:
    """The ban that keeps this account (None: a new one being made) out, or None.

    An account's own ban always counts. A ban on another account counts only against
    accounts made after it (`joined`), from the browser carrying its marker or, for
    BAN_ADDRESS_HOURS after the ban, from its address: people who happen to share an address
    with a banned account (a school, a carrier's NAT) keep their existing accounts."""
    if user_id is not None:
        ban = active_ban(user_id)
        if ban is not None:
            return ban
    now = timezone.now()
    evading = Q()
    marked = marked_user(marker)
    if marked is not None and marked != user_id:
        evading |= Q(user_id=marked)
    if settings.BAN_ADDRESS_HOURS > 0 and address and address != "unknown":
        evading |= Q(address_hash=address_hash(address),
                     created_at__gte=now - timedelta(hours=settings.BAN_ADDRESS_HOURS))
    if not evading:
        return None
    bans = Ban.objects.filter(_in_force(now)).filter(evading)
    if joined is not None:
        bans = bans.filter(created_at__lte=joined)
    return bans.order_by(F("until").desc(nulls_first=True)).first()


# ---- issuing


def _until_iso(until: datetime | None) -> str | None:
    return until.isoformat().replace("+00:00", "Z") if until else None


def banned_frame(ban: Ban) -> dict[str, str | None]:
    """The contract's `banned` frame for a ban in force."""
    return {"type": "banned", "until": _until_iso(ban.until), "reason": ban.reason}


def issue_ban(user_id: int, reason: str, until: datetime | None = None,
              moderator_id: int | None = None, report_id: int | None = None) -> Ban:
    """Ban the user (until None: permanently), write the decision to the audit log, and once
    committed close their live socket on whichever process holds it."""
    reason = reason.strip()
    if not reason:
        raise ValueError("a ban needs a reason")
    if until is not None and until <= timezone.now():
        raise ValueError("a temporary ban must end in the future")
    action = Decision.Action.PERMANENT_BAN if until is None else Decision.Action.TEMPORARY_BAN
    with transaction.atomic():
        decision = Decision.objects.create(action=action, reason=reason, until=until,
                                           moderator_id=moderator_id, subject_id=user_id,
                                           report_id=report_id)
        ban = Ban.objects.create(user_id=user_id, decision=decision, until=until, reason=reason,
                                 address_hash=cache.get(_signin_address_key(user_id)) or "")
        event = {**banned_frame(ban), "type": "chat.banned"}
        # When the channel layer is down the ban still stands, and the socket is refused at
        # its next connect.
        notify_user_on_commit(user_id, event)
    return ban


def issue_mute(user_id: int, reason: str, until: datetime | None,
               moderator_id: int | None = None, report_id: int | None = None) -> Mute:
    """Mute the user: their lines are refused until `until` (None: permanently)."""
    reason = reason.strip()
    if not reason:
        raise ValueError("a mute needs a reason")
    with transaction.atomic():
        decision = Decision.objects.create(action=Decision.Action.MUTE, reason=reason,
                                           until=until, moderator_id=moderator_id,
                                           subject_id=user_id, report_id=report_id)
        mute = Mute.objects.create(user_id=user_id, decision=decision, until=until,
                                   reason=reason)
        # The live socket refuses the user's lines from now on, on whichever process.
        event = {"type": "chat.muted", "until": _until_iso(until)}
        notify_user_on_commit(user_id, event)
        return mute


def lift_restrictions(decision_id: int) -> int:
    """End the ban or mute a decision imposed (an appeal was granted); once committed, the
    user's live socket learns that a lifted mute no longer holds."""
    now = timezone.now()
    unmuted = list(Mute.objects.filter(decision_id=decision_id, lifted_at__isnull=True)
                   .values_list("user_id", flat=True))
    lifted = sum(model.objects.filter(decision_id=decision_id, lifted_at__isnull=True)
                 .update(lifted_at=now) for model in (Ban, Mute))
    for user_id in unmuted:
        transaction.on_commit(lambda user_id=user_id: push_mute(user_id), robust=True)
    return lifted


def push_mute(user_id: int) -> None:
    """Tell the live socket when the user's mute ends now: another mute still in force, or
    at once (an end in the past)."""
    until = active_mute(user_id) or timezone.now()
    notify_user(user_id, {"type": "chat.muted", "until": _until_iso(until)})
