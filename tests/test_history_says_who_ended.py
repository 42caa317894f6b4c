"""A kept conversation says who ended it: "You left" on one side, "Stranger left" on the other."""
from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from chatsockets import close_all, connect, pair_clients
from django.utils import timezone

from accounts.models import User
from chat import history
from chat.models import KeptConversation

pytestmark = pytest.mark.django_db(transaction=True)


async def test_each_side_reads_who_left() -> None:
    def keeper(name: str) -> User:
        return User.objects.create(username=name, keeps_history=True,
                                   rules_accepted_at=timezone.now())

    leaver = await connect(await database_sync_to_async(keeper)("Leaver1"))
    stayer = await connect(await database_sync_to_async(keeper)("Stayer1"))
    await pair_clients(leaver, stayer)
    await leaver.send({"type": "leave"})
    await leaver.expect("ended")
    await stayer.expect("partner_left")
    await history.flush_history()

    def how_it_ended() -> dict[str, str]:
        return {kept.owner.username: kept.get_ended_how_display()
                for kept in KeptConversation.objects.select_related("owner")}

    assert await database_sync_to_async(how_it_ended)() == {
        "Leaver1": "You left", "Stayer1": "Stranger left"}
    await close_all(leaver, stayer)
