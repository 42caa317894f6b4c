import re
import threading

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client

from accounts import guests
from accounts.guests import create_guest
from accounts.models import User

FRIENDLY = re.compile(r"^[A-Z][a-z]+[A-Z][a-z]+\d{2,6}$")


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


def csrf_client(address: str = "203.0.113.7", **headers: str) -> tuple[Client, str]:
    client = Client(enforce_csrf_checks=True, REMOTE_ADDR=address, **headers)
    client.get("/")
    return client, client.cookies["csrftoken"].value


def click_guest_button(client: Client, token: str):  # noqa: ANN201 - a test response
    return client.post("/accounts/guest/", {"csrfmiddlewaretoken": token})


@pytest.mark.django_db
def test_guest_button_logs_in_a_new_guest_with_a_friendly_handle_and_opens_the_chat(postgres):
    client, token = csrf_client()
    response = click_guest_button(client, token)
    assert response.status_code == 302
    assert response["Location"] == "/chat/"
    assert client.cookies["sessionid"].value
    guest = User.objects.get()
    assert guest.is_guest
    assert FRIENDLY.match(guest.username)
    assert not guest.has_usable_password()
    page = client.get("/chat/")
    assert page.status_code == 200
    assert guest.username in page.content.decode()


@pytest.mark.django_db
def test_guest_signup_without_the_csrf_token_is_refused_and_creates_nobody(postgres):
    client, _ = csrf_client()
    assert client.post("/accounts/guest/").status_code == 403
    assert not User.objects.exists()
    assert "sessionid" not in client.cookies


@pytest.mark.django_db
def test_guest_signup_by_get_is_refused(postgres):
    response = Client().get("/accounts/guest/")
    assert response.status_code == 405
    assert not User.objects.exists()


@pytest.fixture(params=["embedded", "redis"])
def shared_cache(request, settings):  # noqa: ANN001 - pytest's request
    """Guest limits counted in the embedded cache, and in Redis as several processes do."""
    if request.param == "redis":
        redis_url = request.getfixturevalue("redis_url")
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                       "LOCATION": redis_url}}
        settings.REDIS_URL = redis_url  # where the limits are counted
    return request.param


@pytest.mark.django_db
def test_guest_signups_over_the_limit_get_a_friendly_429_and_other_addresses_do_not(
        postgres, shared_cache, settings):
    settings.GUEST_RATE_LIMIT = "3/h"
    client, token = csrf_client("203.0.113.7")
    for _ in range(3):
        assert click_guest_button(client, token).status_code == 302
        client.post("/accounts/logout/", {"csrfmiddlewaretoken": client.cookies["csrftoken"].value})
        token = client.cookies["csrftoken"].value
    refused = click_guest_button(client, token)
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert "Try again in" in refused.content.decode()
    assert User.objects.count() == 3

    neighbour, neighbour_token = csrf_client("198.51.100.20")
    assert click_guest_button(neighbour, neighbour_token).status_code == 302
    assert User.objects.count() == 4


@pytest.mark.django_db
def test_forwarded_header_is_ignored_without_a_trusted_proxy(postgres, settings):
    settings.GUEST_RATE_LIMIT = "2/h"
    settings.TRUSTED_PROXY_COUNT = 0
    statuses = []
    for n in range(3):
        client, token = csrf_client("203.0.113.7", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}")
        statuses.append(click_guest_button(client, token).status_code)
    assert statuses == [302, 302, 429]


@pytest.mark.django_db
def test_behind_a_trusted_proxy_guests_are_counted_by_the_address_the_proxy_saw(
        postgres, settings):
    settings.GUEST_RATE_LIMIT = "2/h"
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.1"

    def from_client(forwarded_for: str) -> int:
        client, token = csrf_client(proxy, HTTP_X_FORWARDED_FOR=forwarded_for)
        return click_guest_button(client, token).status_code

    # A client that forges entries of its own is still counted by the last one, its address.
    assert [from_client(f"1.2.3.{n}, 203.0.113.7") for n in range(3)] == [302, 302, 429]
    assert from_client("198.51.100.20") == 302


def test_a_handle_drawn_twice_in_another_case_is_drawn_again(db, postgres, monkeypatch):
    User.objects.create(username="QuietOtter42")
    draws = iter(["quietotter42", "BraveFox07"])
    # Two requests can draw the same handle between the check and the insert; only the
    # database's case-insensitive constraint tells them apart. Force that race here.
    monkeypatch.setattr(guests, "generate_handle", lambda: next(draws))
    assert create_guest().username == "BraveFox07"


def test_guests_created_at_once_never_share_a_handle(transactional_db, postgres):
    made: list[str] = []
    errors: list[BaseException] = []

    def make_guests() -> None:
        try:
            for _ in range(40):
                made.append(create_guest().username)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=make_guests) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(made) == 200
    assert len({handle.lower() for handle in made}) == 200
    assert User.objects.filter(is_guest=True).count() == 200
    assert all(FRIENDLY.match(handle) for handle in made)


def test_guest_limit_is_shared_by_server_processes_behind_one_redis(start_server, redis_url):
    import urllib.error

    from chatclient import guest_session

    servers = [start_server(redis_url=redis_url, GUEST_RATE_LIMIT="3/h") for _ in range(2)]
    for server in (servers[0], servers[1], servers[0]):
        assert guest_session(server.url)
    with pytest.raises(urllib.error.HTTPError) as refused:
        guest_session(servers[1].url)
    assert refused.value.code == 429
    assert int(refused.value.headers["Retry-After"]) > 0


@pytest.mark.django_db
def test_the_guest_limit_refills_evenly_so_a_windows_edge_gives_no_burst(postgres,
                                                                        settings) -> None:
    """Issue 14: fixed windows let 2N through around a window's edge. Evenly refilled, the
    next guest after N is one interval (period / N) away, wherever in the period it is."""
    settings.GUEST_RATE_LIMIT = "3/h"
    statuses = [Client(REMOTE_ADDR="203.0.113.8").post("/accounts/guest/").status_code
                for _ in range(4)]
    assert statuses == [302, 302, 302, 429]
    refused = Client(REMOTE_ADDR="203.0.113.8").post("/accounts/guest/")
    assert 1190 <= int(refused["Retry-After"]) <= 1201  # 3600 s / 3, not "until the hour"
