"""The rules of keeping in touch, outside any socket or view (protocol section 5).

Owns: who is whose contact (one `Contact` row and id per pair), ending a contact (remove,
block, account deletion, ban: see `receivers`), letters (filtered like a chat line,
rate-limited, encrypted at rest with the history keys, delivered live after commit), their
read state, reports on a contact and letter retention. The consent frames and invitations
(`consent`, `invitations`, `live`) build on these functions.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from chat import conversations
from chat.contacts import tasks
from chat.contacts.models import Contact, Letter
from chat.models import Block
from chat.notify import notify_user_sync
from chat.protocol import iso_utc
from chat.store import get_store
from chatsite.plumbing.crypto import decrypt_text, encrypt_text
from moderation.filtering.filters import filter_line
from moderation.models import Report
from moderation.reports import ReportError, file_report


class ContactError(ValueError):
    """Refused; nothing changed. `code` is the contract's error code where one applies."""

    def __init__(self, code: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.retry_after = retry_after


def parse_id(value: Any) -> uuid.UUID | None:
    """A contact id from a client; None for anything that is not a UUID."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


def _pair(user_a_id: int, user_b_id: int) -> tuple[int, int]:
    return (user_a_id, user_b_id) if user_a_id < user_b_id else (user_b_id, user_a_id)


def _involving(user_id: int) -> Q:
    return Q(user_low_id=user_id) | Q(user_high_id=user_id)


def blocked_either_way(user_a_id: int, user_b_id: int) -> bool:
    return Block.objects.filter(Q(blocker_id=user_a_id, blocked_id=user_b_id)
                                | Q(blocker_id=user_b_id, blocked_id=user_a_id)).exists()


def connect(user_a_id: int, user_b_id: int) -> Contact:
    """Make the two contacts (both asked); the existing contact when they already are.

    Refused with `account_required` for a guest (or a gone account) and `blocked` for a pair
    where either side blocked the other."""
    if user_a_id == user_b_id:
        raise ContactError("bad_frame", "a user cannot be their own contact")
    low, high = _pair(user_a_id, user_b_id)
    full = get_user_model().objects.filter(pk__in=(low, high), is_guest=False, is_active=True)
    if full.count() != 2:
        raise ContactError("account_required", "only full accounts keep in touch")
    if blocked_either_way(low, high):
        raise ContactError("blocked", "one of the two blocked the other")
    try:
        with transaction.atomic():
            contact, _ = Contact.objects.get_or_create(user_low_id=low, user_high_id=high)
    except IntegrityError:  # the other side's request won the race
        contact = Contact.objects.get(user_low_id=low, user_high_id=high)
    return contact


def contact_of(user_id: int, contact_id: Any) -> Contact | None:
    """The contact with that id if `user_id` is one of its two sides, else None."""
    parsed = parse_id(contact_id)
    if parsed is None:
        return None
    return Contact.objects.filter(_involving(user_id), id=parsed).first()


def contact_between(user_a_id: int, user_b_id: int) -> Contact | None:
    low, high = _pair(user_a_id, user_b_id)
    return Contact.objects.filter(user_low_id=low, user_high_id=high).first()


def contacts_of(user_id: int) -> QuerySet[Contact]:
    """The user's contacts, newest first, with both users loaded."""
    return (Contact.objects.filter(_involving(user_id)).select_related("user_low", "user_high")
            .order_by("-created_at"))


def partner_id(contact: Contact, user_id: int) -> int:
    return contact.partner_id(user_id)


def partner_of(contact: Contact, user_id: int) -> Any:
    """The other side's user object (loaded with the contact by `contacts_of`)."""
    return contact.user_high if contact.user_low_id == user_id else contact.user_low


def partner_ids(user_id: int) -> list[int]:
    """Every contact's user id, for presence."""
    return [partner_id(contact, user_id)
            for contact in Contact.objects.filter(_involving(user_id)).only(
                "user_low_id", "user_high_id")]


def online_among(users: Iterable[Any]) -> dict[int, bool | None]:
    """What a contact may see of each user: online (a live socket on any process), or None
    for those who do not share presence. One round trip to the socket registry for all."""
    users = list(users)
    sharing = [user.pk for user in users if user.shares_presence]
    sockets = get_store().sockets_now(sharing)
    shown: dict[int, bool | None] = {user.pk: None for user in users}
    shown.update({user_id: bool(socket) for user_id, socket in zip(sharing, sockets,
                                                                    strict=True)})
    return shown


def unread_counts(user_id: int) -> dict[uuid.UUID, int]:
    mine = Q(contact__user_low_id=user_id) | Q(contact__user_high_id=user_id)
    rows = (Letter.objects.filter(mine, read_at__isnull=True).exclude(sender_id=user_id)
            .values("contact_id").annotate(count=Count("id")))
    return {row["contact_id"]: row["count"] for row in rows}


def contact_entry(contact: Contact, user_id: int, unread: int = 0,
                  online: bool | None = None) -> dict[str, Any]:
    """One contact as `GET /contacts/` lists it."""
    partner = partner_of(contact, user_id)
    return {"id": str(contact.id), "handle": partner.username, "since": iso_utc(contact.created_at),
            "online": online, "unread": unread}


def contact_list(user_id: int) -> list[dict[str, Any]]:
    unread = unread_counts(user_id)
    contacts = list(contacts_of(user_id))
    online = online_among(partner_of(contact, user_id) for contact in contacts)
    return [contact_entry(contact, user_id, unread.get(contact.id, 0),
                          online[partner_id(contact, user_id)]) for contact in contacts]


def contact_summary(user_id: int, contact: Contact) -> dict[str, Any]:
    """One contact with its presence, for the thread page."""
    partner = partner_of(contact, user_id)
    return contact_entry(contact, user_id, online=online_among([partner])[partner.pk])


def _tell_removed(user_ids: Iterable[int], contact_id: uuid.UUID) -> None:
    """After commit, each side's live socket (if any) hears that the contact is gone."""
    event = {"type": "chat.contact_removed", "contact": str(contact_id)}
    for user_id in user_ids:
        # Robust: with the channel layer down the contact is still gone; the page shows it.
        transaction.on_commit(lambda user_id=user_id: notify_user_sync(user_id, event),
                              robust=True)


def end_contacts(contacts: Iterable[Contact]) -> int:
    """Delete the contacts (their letters and invitations go with them) and tell both sides."""
    ended = 0
    with transaction.atomic():
        for contact in contacts:
            deleted, _ = Contact.objects.filter(pk=contact.pk).delete()
            if deleted:
                ended += 1
                _tell_removed((contact.user_low_id, contact.user_high_id), contact.pk)
    return ended


def remove(user_id: int, contact_id: Any) -> bool:
    """End the contact for both sides; False when it is not (or no longer) the user's."""
    contact = contact_of(user_id, contact_id)
    return bool(contact and end_contacts([contact]))


def remove_between(user_a_id: int, user_b_id: int) -> bool:
    """End the pair's contact, if any (a block from a conversation)."""
    contact = contact_between(user_a_id, user_b_id)
    return bool(contact and end_contacts([contact]))


def remove_all(user_id: int) -> int:
    """End every contact of the user (a ban); each other side hears `contact_removed`."""
    return end_contacts(list(Contact.objects.filter(_involving(user_id))))


def block(user_id: int, contact_id: Any) -> bool:
    """Block the contact: the block ends the contact (see `receivers`), and the two are never
    matched, invited or written to again."""
    contact = contact_of(user_id, contact_id)
    if contact is None:
        return False
    conversations.block_user(user_id, partner_id(contact, user_id), None)
    return True


def over_limit(key: str, rate: str) -> float | None:
    """Count one hit on the live store's limiter, the socket's; seconds to wait when over."""
    return async_to_sync(get_store().hit)(key, rate)


def check_letter_text(text: Any) -> str:
    if not isinstance(text, str) or not text.strip():
        raise ContactError("bad_frame", "a letter needs text")
    if len(text) > settings.MESSAGE_MAX_LENGTH:
        raise ContactError("too_long",
                           f"a letter is at most {settings.MESSAGE_MAX_LENGTH} characters")
    return text


def letter_frame(letter: Letter, viewer_id: int) -> dict[str, Any]:
    """The contract's letter object as `viewer_id` sees it."""
    return {"id": str(letter.id), "from": "me" if letter.sender_id == viewer_id else "partner",
            "text": decrypt_text(letter.body), "ts": iso_utc(letter.created_at),
            "filtered": letter.filtered}


def write_letter(user_id: int, contact_id: Any, text: Any) -> Letter:
    """Store a letter to the contact and, after commit, deliver it live or push a notice.

    Checked in this order, so a refused letter costs nothing: the contact, the text, the
    rate limit. The text is masked by the same filter as a chat line before it is stored;
    the masked text is what both sides (and a report) see."""
    contact = contact_of(user_id, contact_id)
    if contact is None:
        raise ContactError("not_a_contact", "no such contact")
    text = check_letter_text(text)
    retry_after = over_limit(f"letters:{user_id}", settings.LETTER_RATE_LIMIT)
    if retry_after is not None:
        raise ContactError("rate_limited", "too many letters; wait a little",
                           retry_after=retry_after)
    filtered = filter_line(text)
    letter = Letter.objects.create(contact=contact, sender_id=user_id,
                                   body=encrypt_text(filtered.text), filtered=filtered.filtered)
    recipient = partner_id(contact, user_id)
    event = {"type": "chat.letter", "contact": str(contact.id),
             "letter": letter_frame(letter, recipient)}

    def deliver() -> None:
        if not notify_user_sync(recipient, event):
            tasks.queue_push_letter(letter.id)

    transaction.on_commit(deliver, robust=True)
    return letter


def letters_with(user_id: int, contact: Contact, mark_read: bool = True) -> list[dict[str, Any]]:
    """The contact's letters, oldest first, as `user_id` sees them; the partner's unread ones
    are marked read."""
    letters = list(contact.letters.order_by("created_at", "id"))
    if mark_read:
        Letter.objects.filter(contact=contact, read_at__isnull=True).exclude(
            sender_id=user_id).update(read_at=timezone.now())
    return [letter_frame(letter, user_id) for letter in letters]


def report(user_id: int, contact_id: Any, reason: Any, note: Any) -> Report:
    """A report on the contact whose evidence is the pair's recent letters (both sides)."""
    contact = contact_of(user_id, contact_id)
    if contact is None:
        raise ContactError("not_a_contact", "no such contact")
    # The same budget as reports from the socket (the consumer's `reports:` key).
    retry_after = over_limit(f"reports:{user_id}", settings.REPORT_RATE_LIMIT)
    if retry_after is not None:
        raise ContactError("rate_limited", "too many reports; wait a little",
                           retry_after=retry_after)
    recent = list(contact.letters.select_related("sender")
                  .order_by("-created_at")[:settings.LETTER_EVIDENCE_COUNT])
    evidence = [{"from": letter.sender.username, "text": decrypt_text(letter.body),
                 "ts": iso_utc(letter.created_at)} for letter in reversed(recent)]
    note_text = note if isinstance(note, str) else ""
    try:
        return file_report(user_id, partner_id(contact, user_id), None, str(reason or ""),
                           note_text, evidence)
    except ReportError as error:
        raise ContactError("bad_frame", str(error)) from None


def export_entries(user_id: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The export document's `contacts` and `letters` (section 4), oldest first."""
    contacts = list(contacts_of(user_id).order_by("created_at"))
    handles = {contact.pk: partner_of(contact, user_id).username for contact in contacts}
    contact_entries = [{"handle": handles[contact.pk], "since": iso_utc(contact.created_at)}
                       for contact in contacts]
    letters = Letter.objects.filter(contact_id__in=handles).order_by("created_at", "id")
    letter_entries = [{"contact": handles[letter.contact_id],
                       "from": "me" if letter.sender_id == user_id else "partner",
                       "text": decrypt_text(letter.body), "ts": iso_utc(letter.created_at)}
                      for letter in letters]
    return contact_entries, letter_entries
