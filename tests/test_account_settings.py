import pytest

from accounts.guests import create_guest
from accounts.models import User

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("postgres")]


@pytest.fixture
def night_owl() -> User:
    return User.objects.create_user("NightOwl", password="correct horse battery staple")


def page_text(response) -> str:  # noqa: ANN001 - a test response
    return response.content.decode()


def test_settings_need_a_login(client):
    response = client.get("/account/settings/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_full_account_turns_history_on_and_off_with_the_checkbox(client, night_owl):
    client.force_login(night_owl)
    assert "keeps_history" in page_text(client.get("/account/settings/"))

    response = client.post("/account/settings/", {"keeps_history": "on"}, follow=True)
    night_owl.refresh_from_db()
    assert night_owl.keeps_history
    assert "Your preferences are saved." in page_text(response)

    client.post("/account/settings/", {})
    night_owl.refresh_from_db()
    assert not night_owl.keeps_history


def test_guest_cannot_keep_history_sees_why_and_nothing_is_saved(client):
    guest = create_guest()
    client.force_login(guest)
    response = client.post("/account/settings/", {"keeps_history": "on"})
    assert response.status_code == 200
    assert "Guests cannot keep history" in page_text(response)
    assert "Nothing was changed" in page_text(response)
    guest.refresh_from_db()
    assert not guest.keeps_history


def test_a_claim_posted_by_a_full_account_changes_nothing(client, night_owl):
    night_owl.keeps_history = True
    night_owl.save()
    client.force_login(night_owl)
    response = client.post("/account/settings/", {
        "form": "claim", "new_password1": "another long passphrase",
        "new_password2": "another long passphrase", "adult": "on"}, follow=True)
    assert "already has a password" in page_text(response)
    night_owl.refresh_from_db()
    assert night_owl.keeps_history
    assert night_owl.check_password("correct horse battery staple")


def test_chat_page_toggle_gets_json_and_no_flash_message(client):
    user = User.objects.create_user(username="Toggler", password="a-long-password-1")
    client.force_login(user)
    response = client.post("/account/settings/", {"form": "preferences", "keeps_history": "on"},
                           HTTP_ACCEPT="application/json")
    assert response.status_code == 200 and response.json() == {"keeps_history": True}
    assert "saved" not in client.get("/account/settings/").content.decode().lower()

    guest = User.objects.create(username="GuestToggler", is_guest=True)
    client.force_login(guest)
    response = client.post("/account/settings/", {"form": "preferences", "keeps_history": "on"},
                           HTTP_ACCEPT="application/json")
    assert response.status_code == 400 and "keeps_history" in response.json()["errors"]
    guest.refresh_from_db()
    assert guest.keeps_history is False
