import pytest
from django.test import Client

from accounts.models import User

PASSWORD = "correct horse battery staple"

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("postgres")]


@pytest.fixture
def night_owl() -> User:
    return User.objects.create_user("NightOwl", password=PASSWORD)


def log_in(client: Client, login: str, password: str = PASSWORD):  # noqa: ANN201
    return client.post("/accounts/login/", {"login": login, "password": password})


def test_login_with_handle_and_password_opens_the_chat(client, night_owl):
    response = log_in(client, "NightOwl")
    assert response.status_code == 302
    assert response["Location"] == "/chat/"
    assert client.get("/chat/").status_code == 200


def test_login_ignores_the_case_of_the_handle(client, night_owl):
    assert log_in(client, "nightowl").status_code == 302
    assert client.get("/chat/").status_code == 200


def test_wrong_password_is_refused_with_a_message(client, night_owl):
    response = log_in(client, "NightOwl", "not my password")
    assert response.status_code == 200
    assert response.context["form"].errors
    assert client.get("/chat/").status_code == 302


def test_logout_by_post_ends_the_session(client, night_owl):
    log_in(client, "NightOwl")
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert client.get("/chat/")["Location"].startswith("/accounts/login/")


def test_logout_by_get_only_asks_and_keeps_the_session(client, night_owl):
    log_in(client, "NightOwl")
    assert client.get("/accounts/logout/").status_code == 200
    assert client.get("/chat/").status_code == 200


def test_login_records_when_the_user_was_last_seen(client, night_owl):
    assert night_owl.last_seen is None
    log_in(client, "NightOwl")
    night_owl.refresh_from_db()
    assert night_owl.last_seen is not None
