"""The live side of keeping in touch (PROTOCOL.md section 5): the socket's handlers for
`keep_in_touch`, `invite`, `accept`, `decline` and `cancel_invite`, the channel-layer events
that reach a user's socket on whichever process holds it, and presence.

The consumer (`chat.consumers`) routes the frames in `FRAMES` and the events in `EVENTS` here
with the socket's state (`chat.live.socket.Socket`) and calls `connected` / `disconnected`;
`chat.live.safety` calls `conversation_spoiled`. The rules themselves live in
`chat.contacts.consent` and `chat.contacts.invitations`. An accepted invitation becomes a
conversation through `chat.live.conversation.begin`, the path every match takes.

Events (sent with `chat.notify.notify_user`):
- `contacts.frame` `{"frame": {...}}`: hand the frame to the client as it is;
- `contacts.invited` `{"frame": invited frame, "expires_in": seconds}`: also start the
  invitee's expiry timer (the inviter runs one too; the first to fire settles it);
- `chat.contact_removed` `{"contact": id}` and `chat.letter` `{"contact": id, "letter": {...}}`
  from `chat.contacts.services`: become `contact_removed` and `letter` frames.
"""
from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Any, TypeVar

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DatabaseError
from django.db.models import Q

from chat import conversations
from chat.contacts import consent, invitations, services
from chat.contacts.models import Contact, Invitation
from chat.live.conversation import begin
from chat.live.searching import stop_searching
from chat.live.socket import Socket
from chat.notify import notify_user
from chat.protocol import FrameError
from chat.store import LiveConversation, Member

log = logging.getLogger(__name__)

T = TypeVar("T")


async def db(function: Callable[..., T], *args: Any) -> T:
    try:
        return await database_sync_to_async(function)(*args)
    except DatabaseError as error:
        log.warning("database unavailable: %s", error)
        raise FrameError("unavailable", "the service is briefly unavailable; try again") from None


# ---- presence: the rule, then the telling


def presence_audience(user_id: int) -> list[tuple[str, int]]:
    """(contact id, the other's user id) of everyone told when `user_id` comes or goes:
    their contacts, and only while `user_id` shares presence."""
    if not shares_presence(user_id):
        return []
    rows = Contact.objects.filter(Q(user_low_id=user_id) | Q(user_high_id=user_id))
    return [(str(c.pk), c.partner_id(user_id)) for c in rows]


def shares_presence(user_id: int) -> bool:
    return get_user_model().objects.filter(pk=user_id, shares_presence=True).exists()


async def online_of(socket: Socket, user_id: int) -> bool | None:
    """What a contact may know of `user_id`: null where it does not share presence."""
    if not await db(shares_presence, user_id):
        return None
    return bool(await socket.store.socket_of(user_id))


async def tell(audience: list[tuple[str, int]], online: bool) -> None:
    for contact_id, other_id in audience:
        await notify_user(other_id, frame_event(
            {"type": "contact_presence", "contact": contact_id, "online": online}))


def frame_event(frame: dict[str, Any]) -> dict[str, Any]:
    return {"type": "contacts.frame", "frame": frame}


def waiting_for(user_id: int) -> tuple[list[tuple[str, int]], list[str], list[Invitation]]:
    """In one trip to the database: who is told the user came, the offers to keep in touch
    and the invitations that wait for the user."""
    return (presence_audience(user_id), consent.pending_offers(user_id),
            invitations.pending_for(user_id))


async def connected(socket: Socket) -> None:
    """After `welcome`: contacts learn this user came; what waits for it is offered again."""
    audience, offers, waiting = await db(waiting_for, socket.user_id)
    await tell(audience, True)
    for handle in offers:
        await socket.send_frame({"type": "keep_in_touch_offered", "handle": handle})
    for invitation in waiting:
        await offer(socket, invitations.invited_frame(invitation, invitation.inviter.username),
                    invitations.seconds_left(invitation))


async def disconnected(socket: Socket) -> None:
    """After the socket let go: contacts learn the user went, unless a newer socket took over."""
    if not await socket.store.socket_of(socket.user_id):
        await tell(await db(presence_audience, socket.user_id), False)


# ---- consent


async def on_keep_in_touch(socket: Socket, frame: dict[str, Any]) -> None:
    try:
        asked = await db(consent.ask, socket.user_id)
    except services.ContactError as error:
        raise FrameError(error.code, str(error)) from None
    await socket.send_frame({"type": "keep_in_touch_sent"})
    if asked.contact is not None:
        contact_id = str(asked.contact.pk)
        partner_handle = await db(handle_of, asked.other_id)
        await socket.send_frame(contact_added(contact_id, partner_handle,
                                                await online_of(socket, asked.other_id)))
        await notify_user(asked.other_id, frame_event(contact_added(
            contact_id, socket.handle, await online_of(socket, socket.user_id))))
    elif asked.offer_handle:
        await notify_user(asked.other_id, frame_event(
            {"type": "keep_in_touch_offered", "handle": asked.offer_handle}))


def handle_of(user_id: int) -> str:
    return get_user_model().objects.values_list("username", flat=True).get(pk=user_id)


def contact_added(contact_id: str, handle: str, online: bool | None) -> dict[str, Any]:
    return {"type": "contact_added",
            "contact": {"id": contact_id, "handle": handle, "online": online}}


async def conversation_spoiled(conversation_id: str) -> None:
    """A block or a report in the conversation: pending requests to keep in touch go."""
    await db(consent.cancel, conversation_id)


# ---- invitations


async def on_invite(socket: Socket, frame: dict[str, Any]) -> None:
    if socket.conversation or socket.searching:
        raise FrameError("already_searching", "leave the conversation or stop looking first")
    await socket.check_rate("invites", settings.INVITE_RATE_LIMIT)
    try:
        contact = await db(invitations.contact_for, socket.user_id, frame["contact"])
    except services.ContactError as error:
        raise FrameError(error.code, str(error)) from None
    other_id = contact.partner_id(socket.user_id)
    if not await socket.store.socket_of(other_id):
        raise FrameError("contact_offline", "your contact is not connected")
    if await socket.store.conversation_of(other_id):
        raise FrameError("contact_busy", "your contact is in a conversation")
    invitation, replaced = await db(invitations.create, socket.user_id, contact,
                                    frame["mode"])
    for old in replaced:
        await withdrawn(socket, old)
    invitation_id = str(invitation.pk)
    reached = await notify_user(other_id, {
        "type": "contacts.invited",
        "frame": invitations.invited_frame(invitation, socket.handle),
        "expires_in": settings.INVITE_TIMEOUT_SECONDS})
    if not reached:
        await db(invitations.give_up, invitation_id)
        raise FrameError("contact_offline", "your contact is not connected")
    await socket.send_frame({"type": "inviting", "invitation": invitation_id})
    watch_expiry(socket, invitation_id, settings.INVITE_TIMEOUT_SECONDS)


async def withdrawn(socket: Socket, invitation: Invitation) -> None:
    socket.stop_task(f"invite:{invitation.pk}")
    await notify_user(invitation.invitee_id, frame_event(
        {"type": "invite_cancelled", "invitation": str(invitation.pk)}))


async def on_cancel_invite(socket: Socket, frame: dict[str, Any]) -> None:
    invitation = await settle(invitations.withdraw, socket, frame)
    await withdrawn(socket, invitation)
    await socket.send_frame({"type": "invite_cancelled", "invitation": str(invitation.pk)})


async def on_decline(socket: Socket, frame: dict[str, Any]) -> None:
    invitation = await settle(invitations.decline, socket, frame)
    socket.stop_task(f"invite:{invitation.pk}")
    await notify_user(invitation.inviter_id, frame_event(
        {"type": "invite_declined", "invitation": str(invitation.pk)}))


async def settle(change: Callable[[int, str], Invitation], socket: Socket,
                 frame: dict[str, Any]) -> Invitation:
    try:
        return await db(change, socket.user_id, frame["invitation"])
    except services.ContactError as error:
        raise FrameError(error.code, str(error)) from None


async def inviter_busy(invitation: Invitation) -> None:
    """The inviter met someone meanwhile: told the invitation expired; the invitee is told
    `contact_busy`."""
    await notify_user(invitation.inviter_id, frame_event(
        {"type": "invite_expired", "invitation": str(invitation.pk)}))
    raise FrameError("contact_busy", "your contact is in a conversation now")


async def on_accept(socket: Socket, frame: dict[str, Any]) -> None:
    if socket.conversation:
        raise FrameError("already_searching", "already in a conversation; leave it first")
    invitation = await settle(invitations.accept, socket, frame)
    socket.stop_task(f"invite:{invitation.pk}")
    inviter_channel = await socket.store.socket_of(invitation.inviter_id)
    if not inviter_channel:
        raise FrameError("contact_offline", "your contact is no longer connected")
    if await socket.store.conversation_of(invitation.inviter_id):
        await inviter_busy(invitation)
    async with socket.match_lock:
        if socket.searching:
            # Stop looking for a stranger; a pairing that won the race makes this user busy.
            await socket.matcher.cancel(socket.user_id, socket.channel_name)
            stop_searching(socket)
        if socket.conversation:
            raise FrameError("already_searching", "matched with someone just now")
        inviter = invitation.inviter
        me = await db(invitations.person, socket.user_id)
        live = LiveConversation(
            id=str(uuid.uuid4()), mode=invitation.mode, initiator_id=inviter.pk,
            common_interests=[], contact=str(invitation.contact_id),
            members={inviter.pk: Member(inviter.pk, inviter_channel, inviter.username,
                                        inviter.keeps_history),
                     me.user_id: Member(me.user_id, socket.channel_name, me.handle,
                                        me.keeps_history)})
        # Opened only if neither is in a conversation, in one step with filing it: a pairing
        # in the same instant (on any process) either wins, or finds both taken.
        if not await socket.store.open_conversation(live):
            if await socket.store.conversation_of(socket.user_id):
                raise FrameError("already_searching", "matched with someone just now")
            await inviter_busy(invitation)
        try:
            await db(conversations.start_conversation, live.id, live.mode, inviter.pk,
                     me.user_id, [])
        except FrameError:
            await socket.store.close_conversation(live.id)
            raise
        await socket.send_to(inviter_channel, {"type": "chat.matched",
                                                 "conversation": live.id})
        socket.keeps_history = me.keeps_history
        await begin(socket, live)


async def offer(socket: Socket, frame: dict[str, str], seconds: float) -> None:
    """Offer an invitation once a socket: one made between this socket's claim and its
    `connected` reading what waits for it comes both from that reading and as its event, and
    the event may come after the user has already answered the first offer."""
    if frame["invitation"] in socket.invitations_offered:
        return
    socket.invitations_offered.add(frame["invitation"])
    await socket.send_frame(frame)
    watch_expiry(socket, frame["invitation"], seconds)


def watch_expiry(socket: Socket, invitation_id: str, seconds: float) -> None:
    socket.start_task(f"invite:{invitation_id}", expire_after(invitation_id, seconds))


async def expire_after(invitation_id: str, seconds: float) -> None:
    await asyncio.sleep(seconds)
    invitation = await db(invitations.expire, invitation_id)
    if invitation is None:
        return  # answered, withdrawn, or the other side's timer was first
    for user_id in (invitation.inviter_id, invitation.invitee_id):
        await notify_user(user_id, frame_event(
            {"type": "invite_expired", "invitation": invitation_id}))


# ---- events from other sockets and from the services


async def on_frame_event(socket: Socket, event: dict[str, Any]) -> None:
    await socket.send_frame(event["frame"])


async def on_invited_event(socket: Socket, event: dict[str, Any]) -> None:
    await offer(socket, event["frame"], float(event["expires_in"]))


async def on_removed_event(socket: Socket, event: dict[str, Any]) -> None:
    await socket.send_frame({"type": "contact_removed", "contact": str(event["contact"])})


async def on_letter_event(socket: Socket, event: dict[str, Any]) -> None:
    await socket.send_frame({"type": "letter", "contact": str(event["contact"]),
                               "letter": event["letter"]})


Handler = Callable[[Socket, dict[str, Any]], Awaitable[None]]

FRAMES: Mapping[str, Handler] = MappingProxyType({
    "keep_in_touch": on_keep_in_touch,
    "invite": on_invite,
    "accept": on_accept,
    "decline": on_decline,
    "cancel_invite": on_cancel_invite,
})

EVENTS: Mapping[str, Handler] = MappingProxyType({
    "contacts.frame": on_frame_event,
    "contacts.invited": on_invited_event,
    "chat.contact_removed": on_removed_event,
    "chat.letter": on_letter_event,
})
