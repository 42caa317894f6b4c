import pytest
from django.core.cache import cache
from django.test import Client

from accounts.models import User

PASSWORD = "a long and private passphrase"

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("postgres")]


@pytest.fixture
def guest_client() -> tuple[Client, User]:
    cache.clear()  # the guest limit counts per address across tests
    client = Client()
    assert client.post("/accounts/guest/").status_code == 302
    return client, User.objects.get(is_guest=True)


def claim(client: Client, adult: bool = True, repeat: str = PASSWORD):  # noqa: ANN201
    data = {"form": "claim", "new_password1": PASSWORD, "new_password2": repeat}
    if adult:
        data["adult"] = "on"
    return client.post("/account/settings/", data, follow=True)


def test_guest_sees_how_to_keep_the_account(guest_client):
    client, guest = guest_client
    page = client.get("/account/settings/").content.decode()
    assert "new_password1" in page
    assert guest.username in page


def test_claimed_guest_keeps_the_handle_and_logs_back_in_with_the_password(guest_client):
    client, guest = guest_client
    response = claim(client)
    assert f"log in as {guest.username}" in response.content.decode()
    claimed = User.objects.get(pk=guest.pk)
    assert claimed.username == guest.username
    assert not claimed.is_guest
    assert claimed.adult_confirmed_at is not None
    assert client.get("/chat/").status_code == 200  # still logged in after the change

    client.post("/accounts/logout/")
    assert client.get("/chat/").status_code == 302
    response = client.post("/accounts/login/", {"login": guest.username, "password": PASSWORD})
    assert response["Location"] == "/chat/"
    assert client.get("/chat/").status_code == 200


def test_claimed_guest_may_then_keep_history(guest_client):
    client, guest = guest_client
    client.post("/account/settings/", {"keeps_history": "on"})
    assert not User.objects.get(pk=guest.pk).keeps_history
    claim(client)
    client.post("/account/settings/", {"keeps_history": "on"})
    assert User.objects.get(pk=guest.pk).keeps_history


@pytest.mark.parametrize("problem", ["no_adult", "mismatch"])
def test_a_refused_claim_shows_why_and_leaves_the_guest_as_it_was(guest_client, problem):
    client, guest = guest_client
    # The guest button records the 18+ confirmation with the rules; a refused claim keeps it.
    confirmed_before = User.objects.get(pk=guest.pk).adult_confirmed_at
    response = (claim(client, adult=False) if problem == "no_adult"
                else claim(client, repeat=PASSWORD + "!"))
    page = response.content.decode()
    assert "Your account is not saved yet" in page
    assert ("You must be 18 or older" in page) if problem == "no_adult" else ("match" in page)
    unchanged = User.objects.get(pk=guest.pk)
    assert unchanged.is_guest
    assert not unchanged.has_usable_password()
    assert unchanged.adult_confirmed_at == confirmed_before
