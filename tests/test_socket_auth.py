"""Who may open /ws/chat/: the whole ASGI application, with a real session cookie and Origin."""
from __future__ import annotations

import json

import pytest
from channels.testing import WebsocketCommunicator
from django.test import Client

from chatsite.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)

SITE = "http://127.0.0.1"


@pytest.fixture
def logged_in() -> tuple[str, str]:
    """(handle, sessionid) of a user logged in through Django's session machinery."""
    from accounts.models import User

    user = User.objects.create(username="CookieOwl7")
    client = Client()
    client.force_login(user)
    return user.username, client.cookies["sessionid"].value


def socket(origin: str | None, session: str | None) -> WebsocketCommunicator:
    headers = [(b"host", b"127.0.0.1")]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if session is not None:
        headers.append((b"cookie", f"sessionid={session}".encode()))
    return WebsocketCommunicator(application, "/ws/chat/", headers=headers)


async def test_a_logged_in_user_is_welcomed_by_handle(logged_in: tuple[str, str]) -> None:
    handle, session = logged_in
    communicator = socket(SITE, session)
    connected, _ = await communicator.connect()
    assert connected
    assert await communicator.receive_json_from() == {
        "type": "welcome", "handle": handle, "keeps_history": False}
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_json_from() == {"type": "pong"}
    await communicator.disconnect()


@pytest.mark.parametrize("session", [None, "not-a-session-key"], ids=["no-cookie", "bad-cookie"])
async def test_without_login_the_socket_closes_with_4001(session: str | None) -> None:
    communicator = socket(SITE, session)
    connected, _ = await communicator.connect()
    assert connected
    assert await communicator.receive_output() == {"type": "websocket.close", "code": 4001}


@pytest.mark.parametrize("origin", ["http://evil.example", "null", None],
                         ids=["foreign", "null", "missing"])
async def test_a_foreign_origin_is_refused_at_the_handshake(
        logged_in: tuple[str, str], origin: str | None) -> None:
    _, session = logged_in
    communicator = socket(origin, session)
    connected, _ = await communicator.connect()
    assert not connected
    await communicator.wait()


@pytest.mark.parametrize(("host", "origin", "allowed"), [
    ("127.0.0.1", "http://127.0.0.1", True),
    ("127.0.0.1:80", "http://127.0.0.1", True),
    ("localhost:8000", "http://localhost:8000", True),
    ("localhost:8000", "http://localhost:8001", False),  # another port, another site
    ("127.0.0.1", "http://127.0.0.1:8080", False),
    ("127.0.0.1", "https://127.0.0.1", False),  # the page is not served over https
    ("localhost:8000", "http://127.0.0.1:8000", False),  # another allowed host's page
    ("evil.example", "http://evil.example", False),  # not an allowed host
], ids=lambda value: str(value))
async def test_the_origin_must_be_the_pages_own_scheme_host_and_port(
        logged_in: tuple[str, str], host: str, origin: str, allowed: bool) -> None:
    _, session = logged_in
    communicator = WebsocketCommunicator(application, "/ws/chat/", headers=[
        (b"host", host.encode()), (b"origin", origin.encode()),
        (b"cookie", f"sessionid={session}".encode())])
    connected, _ = await communicator.connect()
    assert connected is allowed
    if allowed:
        frame = json.loads((await communicator.receive_output())["text"])
        assert frame["type"] == "welcome"
        await communicator.disconnect()
    else:
        await communicator.wait()


async def test_a_trusted_origin_is_allowed_exactly(logged_in: tuple[str, str],
                                                    settings) -> None:  # noqa: ANN001
    settings.CSRF_TRUSTED_ORIGINS = ["https://chat.example.org"]
    _, session = logged_in
    for origin, allowed in (("https://chat.example.org", True),
                            ("https://chat.example.org:8443", False),
                            ("http://chat.example.org", False)):
        communicator = socket(origin, session)
        connected, _ = await communicator.connect()
        assert connected is allowed, origin
        await communicator.disconnect()


@pytest.mark.e2e
@pytest.mark.redis
def test_a_newer_socket_on_another_process_replaces_the_older(start_server,  # noqa: ANN001
                                                              redis_url: str) -> None:
    from chatclient import Socket, guest_session

    one, two = start_server(redis_url=redis_url), start_server(redis_url=redis_url)
    session = guest_session(one.url)
    older = Socket(one.url, session)
    handle = older.expect("welcome")["handle"]
    newer = Socket(two.url, session)
    assert newer.expect("welcome")["handle"] == handle
    assert older.expect("error", skip=())["code"] == "replaced"
    assert older.recv() is None and older.close_code == 4009
    newer.send({"type": "ping"})
    assert newer.expect("pong", skip=()) == {"type": "pong"}
    older.close()
    newer.close()
