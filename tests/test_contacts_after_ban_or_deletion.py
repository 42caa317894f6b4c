"""A ban or an account deletion leaves nothing of keeping in touch pending: the person's
one-way "keep in touch" asks (both ways) and invitations (both ways) are gone, so the other
side is not offered them on reconnecting, and asking back makes no contact with them."""
from __future__ import annotations

from collections.abc import Callable

import pytest

from accounts.deletion import delete_account
from accounts.models import User
from chat.contacts import consent, invitations, services
from chat.contacts.models import ContactRequest, Invitation
from chat.models import Conversation
from moderation.bans import issue_ban
from tests.keeping import contacts, full_user

pytestmark = pytest.mark.django_db(transaction=True)


def ban(user: User) -> None:
    moderator = full_user("Mod", is_staff=True)
    issue_ban(user.pk, "insults", moderator_id=moderator.pk)


def erase(user: User) -> None:
    assert delete_account(user.pk)


@pytest.mark.parametrize("what", [ban, erase], ids=["ban", "deletion"])
def test_pending_asks_and_invitations_go_with_the_person(
        what: Callable[[User], None]) -> None:
    leaving, partner, asked_by, friend = (full_user(name) for name in
                                          ("Leaving", "Partner", "AskedBy", "Friend"))
    # `leaving` asked `partner` to keep in touch, and was asked by `asked_by` (an older
    # conversation, so only the request row ties them); both are still unanswered.
    Conversation.objects.create(user_a=asked_by, user_b=leaving)
    assert consent.ask(asked_by.pk).offer_handle == asked_by.username
    Conversation.objects.create(user_a=leaving, user_b=partner)
    assert consent.ask(leaving.pk).offer_handle == leaving.username
    assert consent.pending_offers(partner.pk) == [leaving.username]
    # `leaving` invited a contact, and a contact invited `leaving`.
    invitation, _ = invitations.create(leaving.pk, services.contact_of(
        leaving.pk, contacts(leaving, friend)), "text")
    invited_by_friend, _ = invitations.create(friend.pk, services.contact_of(
        friend.pk, contacts(friend, asked_by)), "text")
    assert invitations.pending_for(friend.pk) == [invitation]

    what(leaving)

    assert not ContactRequest.objects.filter(asker_id=leaving.pk).exists()
    assert not ContactRequest.objects.filter(other_id=leaving.pk).exists()
    assert consent.pending_offers(partner.pk) == []
    assert invitations.pending_for(friend.pk) == []
    assert not Invitation.objects.filter(inviter_id=leaving.pk,
                                         state=Invitation.State.PENDING).exists()
    # The partner answers the ask now: no contact with the banned or erased person.
    if User.objects.filter(pk=leaving.pk).exists():
        assert consent.ask(partner.pk).contact is None
        assert services.contact_between(partner.pk, leaving.pk) is None
    # Someone else's invitation is untouched.
    assert Invitation.objects.get(pk=invited_by_friend.pk).state == Invitation.State.PENDING
