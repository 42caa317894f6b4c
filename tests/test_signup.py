import pytest
from django.test import Client

from accounts.models import User

PASSWORD = "correct horse battery staple"

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("postgres")]


def sign_up(client: Client, username: str, adult: bool = True, **extra: str):  # noqa: ANN201
    data = {"username": username, "password1": PASSWORD, "password2": PASSWORD, **extra}
    if adult:
        data["adult"] = "on"
    return client.post("/accounts/signup/", data)


def test_signup_form_asks_for_handle_password_and_adult_and_no_real_name(client):
    form = client.get("/accounts/signup/").context["form"]
    assert set(form.fields) == {"username", "email", "password1", "password2", "adult"}
    assert form.fields["adult"].required
    assert not form.fields["email"].required
    assert not {"first_name", "last_name"} & {f.name for f in User._meta.get_fields()}


def test_signing_up_as_an_adult_logs_straight_in_and_opens_the_chat(client):
    response = sign_up(client, "NightOwl")
    assert response.status_code == 302
    assert response["Location"] == "/chat/"
    user = User.objects.get(username="NightOwl")
    assert not user.is_guest
    assert user.adult_confirmed_at is not None
    assert user.email == ""
    assert client.get("/chat/").status_code == 200


def test_signup_with_an_email_address_keeps_it(client):
    sign_up(client, "NightOwl", email="owl@example.org")
    assert User.objects.get(username="NightOwl").email == "owl@example.org"


def test_signup_without_the_adult_box_shows_why_and_creates_nobody(client):
    response = sign_up(client, "NightOwl", adult=False)
    assert response.status_code == 200
    assert "You must be 18 or older" in response.content.decode()
    assert not User.objects.exists()
    assert client.get("/chat/").status_code == 302


def test_a_handle_taken_in_another_case_is_refused(client):
    User.objects.create_user("QuietOtter42", password=PASSWORD)
    response = sign_up(client, "quietotter42")
    assert response.status_code == 200
    assert response.context["form"].errors["username"]
    assert User.objects.count() == 1


@pytest.mark.parametrize("handle", ["two words", "émile", "<script>", "x" * 31, "ab",
                                    "deleted-3f9a2c"])
def test_unsafe_or_badly_sized_handles_are_refused_with_a_message(client, handle):
    response = sign_up(client, handle)
    assert response.status_code == 200
    assert response.context["form"].errors["username"]
    assert not User.objects.exists()


def test_mismatched_passwords_are_refused(client):
    response = client.post("/accounts/signup/", {"username": "NightOwl", "password1": PASSWORD,
                                                 "password2": PASSWORD + "!", "adult": "on"})
    assert response.status_code == 200
    assert not User.objects.exists()
