"""Web push (optional): with VAPID keys, letters and invitations reach a person with no tab
open as an encrypted (aes128gcm) push message that names the writer and never carries the
text. Checked against a local push service: a tiny HTTP server that records each POST."""
from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
import pytest
import requests
from asgiref.sync import async_to_sync
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.test import Client
from django.utils import timezone

from accounts.models import User
from chat.contacts import tasks
from chat.contacts.models import Invitation, PushSubscription
from chat.store import get_store
from tests.keeping import contacts, full_user, session_of

pytestmark = [pytest.mark.postgres, pytest.mark.redis,
              pytest.mark.django_db(transaction=True)]

SECRET_TEXT = "my secret plans for Tuesday"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_point(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.X962,
                                         serialization.PublicFormat.UncompressedPoint)


@dataclass
class PushService:
    """A push service on 127.0.0.1: records requests, answers `status`."""

    url: str
    requests: list[dict] = field(default_factory=list)
    status: int = 201


@pytest.fixture
def push_service() -> Iterator[PushService]:
    service = PushService(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {key.lower(): value for key, value in self.headers.items()}
            service.requests.append({"path": self.path, "headers": headers, "body": body})
            self.send_response(service.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    service.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield service
    server.shutdown()
    server.server_close()


@pytest.fixture
def vapid(settings, postgres: None, redis_live: str) -> ec.EllipticCurvePrivateKey:  # noqa: ANN001
    key = ec.generate_private_key(ec.SECP256R1())
    settings.VAPID_PRIVATE_KEY = b64url(key.private_numbers().private_value.to_bytes(32, "big"))
    settings.VAPID_PUBLIC_KEY = b64url(public_point(key))
    settings.PUSH_ENDPOINT_HOSTS = ["127.0.0.1"]
    return key


@dataclass
class Browser:
    """A browser's push keys, as PushManager.subscribe() makes them."""

    endpoint: str
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    def subscription(self) -> dict:
        return {"endpoint": self.endpoint,
                "keys": {"p256dh": b64url(public_point(self.key)), "auth": b64url(self.auth)}}

    def decrypt(self, body: bytes) -> dict:
        return json.loads(http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth,
                                           version="aes128gcm"))


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def subscribe(user: User, browser: Browser) -> int:
    return client_for(user).post("/contacts/push/subscribe/", browser.subscription(),
                                 content_type="application/json").status_code


def test_a_letter_to_someone_with_no_tab_open_is_pushed_encrypted_without_its_text(
        vapid: ec.EllipticCurvePrivateKey, push_service: PushService) -> None:
    writer, reader = full_user("Writer"), full_user("Reader")
    contact_id = contacts(writer, reader)
    browser = Browser(f"{push_service.url}/push/reader-1")
    assert subscribe(reader, browser) == 201
    response = client_for(writer).post(f"/contacts/{contact_id}/letters/",
                                       {"text": SECRET_TEXT})
    assert response.status_code == 302
    (request,) = push_service.requests
    assert request["path"] == "/push/reader-1"
    assert request["headers"]["content-encoding"] == "aes128gcm"
    assert request["headers"]["authorization"].startswith("vapid t=")
    assert int(request["headers"]["ttl"]) > 0
    assert SECRET_TEXT.encode() not in request["body"]
    notice = browser.decrypt(request["body"])
    assert notice["title"] == f"New letter from {writer.username}"
    assert notice["url"] == f"/contacts/{contact_id}/"
    assert SECRET_TEXT not in json.dumps(notice)


def test_nothing_is_pushed_while_the_person_has_a_tab_open(
        vapid: ec.EllipticCurvePrivateKey, push_service: PushService) -> None:
    writer, reader = full_user(), full_user()
    contact_id = contacts(writer, reader)
    assert subscribe(reader, Browser(f"{push_service.url}/push/r")) == 201
    async_to_sync(get_store().claim_socket)(reader.pk, "specific.elsewhere!1")
    assert tasks.push_letter(str(client_for(writer).post(
        f"/contacts/{contact_id}/letters/", {"text": "hi"}, HTTP_ACCEPT="application/json"
    ).json()["letter"]["id"])) == 0
    assert push_service.requests == []


def test_an_invitation_is_pushed_to_an_invitee_with_no_tab_open(
        vapid: ec.EllipticCurvePrivateKey, push_service: PushService) -> None:
    inviter, invitee = full_user("Inviter"), full_user("Invitee")
    contact_id = contacts(inviter, invitee)
    browser = Browser(f"{push_service.url}/push/invitee")
    assert subscribe(invitee, browser) == 201
    invitation = Invitation.objects.create(
        contact_id=contact_id, inviter=inviter, invitee=invitee, mode="video",
        expires_at=timezone.now() + timedelta(seconds=60))
    # Queued when the invitation is made, sent because the invitee has no socket.
    (request,) = push_service.requests
    notice = browser.decrypt(request["body"])
    assert notice["title"] == f"{inviter.username} invites you to talk (video)"
    Invitation.objects.filter(pk=invitation.pk).update(state=Invitation.State.DECLINED)
    assert tasks.push_invitation(str(invitation.pk)) == 0  # answered: nothing more to say
    assert len(push_service.requests) == 1


def test_a_subscription_the_push_service_says_is_gone_is_forgotten(
        vapid: ec.EllipticCurvePrivateKey, push_service: PushService) -> None:
    writer, reader = full_user(), full_user()
    contact_id = contacts(writer, reader)
    assert subscribe(reader, Browser(f"{push_service.url}/push/gone")) == 201
    push_service.status = 410
    client_for(writer).post(f"/contacts/{contact_id}/letters/", {"text": "still there?"})
    assert len(push_service.requests) == 1
    assert not PushSubscription.objects.exists()


@pytest.mark.parametrize("change", [
    {"endpoint": "http://10.0.0.5/push"},  # not a listed push service: never POSTed to
    {"endpoint": "https://metadata.internal/push"},
    {"endpoint": "https://127.0.0.1.evil.example/push"},
    {"endpoint": "https://user:pw@127.0.0.1/push"},
    {"endpoint": "file:///etc/passwd"},
    {"endpoint": 42},
    {"keys": {"p256dh": "AAAA", "auth": b64url(os.urandom(16))}},
    {"keys": {"p256dh": b64url(b"\x04" + os.urandom(64)), "auth": "short"}},
    {"keys": "none"},
])
def test_a_bad_subscription_is_refused_and_stores_nothing(
        vapid: ec.EllipticCurvePrivateKey, push_service: PushService, change: dict) -> None:
    user = full_user()
    data = {**Browser(f"{push_service.url}/push/x").subscription(), **change}
    response = client_for(user).post("/contacts/push/subscribe/", data,
                                     content_type="application/json")
    assert response.status_code == 400 and response.json()["error"] == "bad_subscription"
    assert not PushSubscription.objects.exists()
    assert client_for(user).post("/contacts/push/subscribe/", "not json",
                                 content_type="application/json").status_code == 400


def test_without_vapid_keys_the_feature_is_absent(settings, postgres: None, redis_live: str,  # noqa: ANN001
                                                  push_service: PushService) -> None:
    settings.VAPID_PUBLIC_KEY = settings.VAPID_PRIVATE_KEY = ""
    settings.PUSH_ENDPOINT_HOSTS = ["127.0.0.1"]
    writer, reader = full_user(), full_user()
    contact_id = contacts(writer, reader)
    assert subscribe(reader, Browser(f"{push_service.url}/push/r")) == 404
    PushSubscription.objects.create(user=reader, endpoint=f"{push_service.url}/push/old",
                                    p256dh="x", auth="y")
    page = client_for(reader).get("/contacts/").content.decode()
    assert 'id="push"' not in page and "sw.js" not in page
    client_for(writer).post(f"/contacts/{contact_id}/letters/", {"text": "hello"})
    assert push_service.requests == []


def test_a_letter_posted_to_daphne_is_pushed_by_a_celery_worker(
        start_server, start_worker, redis_url: str, push_service: PushService) -> None:  # noqa: ANN001
    key = ec.generate_private_key(ec.SECP256R1())
    env = {"VAPID_PRIVATE_KEY": b64url(key.private_numbers().private_value.to_bytes(32, "big")),
           "VAPID_PUBLIC_KEY": b64url(public_point(key)), "PUSH_ENDPOINT_HOSTS": "127.0.0.1"}
    server = start_server(redis_url, **env)
    worker = start_worker(redis_url, **env)
    writer, reader = full_user("Writer"), full_user("Reader")
    contact_id = contacts(writer, reader)
    browser = Browser(f"{push_service.url}/push/worker")
    token = "t" * 32
    session = {"sessionid": session_of(reader), "csrftoken": token}
    page = requests.get(f"{server.url}/contacts/", cookies=session, timeout=10).text
    assert 'id="push"' in page and env["VAPID_PUBLIC_KEY"] in page
    assert requests.post(f"{server.url}/contacts/push/subscribe/", json=browser.subscription(),
                         cookies=session, headers={"X-CSRFToken": token},
                         timeout=10).status_code == 201
    response = requests.post(
        f"{server.url}/contacts/{contact_id}/letters/", data={"text": SECRET_TEXT},
        cookies={"sessionid": session_of(writer), "csrftoken": token},
        headers={"X-CSRFToken": token, "Accept": "application/json"}, timeout=10)
    assert response.status_code == 201
    deadline = time.monotonic() + 60
    while not push_service.requests and time.monotonic() < deadline and worker.poll() is None:
        time.sleep(0.2)
    assert push_service.requests, worker.log_path.read_text(errors="replace")[-3000:]
    notice = browser.decrypt(push_service.requests[0]["body"])
    assert notice["title"] == f"New letter from {writer.username}"
    assert SECRET_TEXT not in json.dumps(notice)
