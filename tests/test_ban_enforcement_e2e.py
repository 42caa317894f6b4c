"""A ban from the admin reaches the user's live socket on another daphne process at once."""
import pytest
from chatclient import Socket, guest_session
from django.test import Client

from accounts.models import User
from moderation.management.commands.create_moderators_group import ensure_moderators_group
from moderation.models import Ban, Report

pytestmark = pytest.mark.e2e

# The promise: the banned user's socket closes within a second of the ban.
BAN_REACHES_SOCKET_SECONDS = 1.0


def test_admin_ban_closes_the_users_socket_on_another_process_and_tells_the_partner(
        start_server, redis_live) -> None:
    one, two = start_server(redis_url=redis_live), start_server(redis_url=redis_live)
    session_a = guest_session(one.url)
    a, b = Socket(one.url, session_a), Socket(two.url, guest_session(two.url))
    handle_a = a.expect("welcome")["handle"]
    b.expect("welcome")
    a.send({"type": "find", "mode": "text"})
    b.send({"type": "find", "mode": "text"})
    a.expect("matched", 20)
    b.expect("matched", 20)
    b.send({"type": "report", "reason": "harassment", "note": "threats"})
    report_id = b.expect("reported")["report"]
    assert Report.objects.get(pk=report_id).reported.username == handle_a

    moderator = User.objects.create(username="mod", is_staff=True)
    moderator.groups.add(ensure_moderators_group())
    admin = Client()
    admin.force_login(moderator)
    response = admin.post("/admin/moderation/report/", {
        "action": "temporary_ban", "apply": "1", "_selected_action": [str(report_id)],
        "reason": "threats in chat", "duration": "24h"})
    assert response.status_code == 302
    ban = Ban.objects.get()

    frame = a.expect("banned", timeout=BAN_REACHES_SOCKET_SECONDS)
    assert frame["reason"] == "threats in chat"
    assert frame["until"][:16] == ban.until.isoformat()[:16]
    assert a.recv(timeout=BAN_REACHES_SOCKET_SECONDS) is None
    assert a.close_code == 4003
    assert b.expect("partner_left")["reason"] == "banned"

    # A new socket of the banned account, on either process, is refused the same way.
    again = Socket(two.url, session_a)
    assert again.expect("banned")["reason"] == "threats in chat"
    assert again.recv() is None and again.close_code == 4003
    for s in (a, b, again):
        s.close()
