"""Handles and interests go through the same word lists as lines: an offensive handle or a
staff-like one (also spelled "Adm1n") is refused at sign-up with a clear form error, guests'
generated handles (kept when a guest claims the account) are always clean, and `find` with an
offensive interest is refused with `bad_frame` and changes nothing."""
import itertools
import json

import pytest
from django.test import Client

from accounts.handles import ADJECTIVES, ANIMALS
from accounts.models import User
from chat.protocol import FrameError, parse_frame
from moderation.filtering.filters import name_problem
from tests.test_signup import sign_up

OFFENSIVE = ["fuckface", "FuckFace", "sh1thead", "xX_shit_Xx", "retard99", "b1tch", "a55hole"]
RESERVED = ["admin", "Adm1n", "m0derator", "ADMIN2", "ad_min", "TheAdmin", "support",
            "SystemBot", "official_news", "staff", "Mod_Squad"]
FINE = ["QuietOtter42", "night_owl", "badminton", "Scunthorpe", "Staffordshire", "modern",
        "Systemic", "assassin", "cocktail_fan"]


@pytest.mark.django_db
@pytest.mark.usefixtures("postgres")
@pytest.mark.parametrize(("handle", "error"), [
    *[(handle, "may not contain offensive words") for handle in OFFENSIVE[:3]],
    *[(handle, "reserved for the site") for handle in RESERVED[:4]],
])
def test_sign_up_refuses_the_handle_with_a_clear_error(client: Client, handle: str,
                                                       error: str) -> None:
    response = sign_up(client, handle)
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not User.objects.exists()


@pytest.mark.django_db
@pytest.mark.usefixtures("postgres")
def test_sign_up_with_an_ordinary_handle_still_works(client: Client) -> None:
    assert sign_up(client, "badminton_fan").status_code == 302
    assert User.objects.filter(username="badminton_fan").exists()


@pytest.mark.parametrize("handle", OFFENSIVE + RESERVED)
def test_offensive_and_reserved_handles_are_refused(handle: str) -> None:
    assert name_problem(handle, reserved=True)


@pytest.mark.parametrize("handle", FINE)
def test_ordinary_handles_pass(handle: str) -> None:
    assert name_problem(handle, reserved=True) is None


def test_every_generated_handle_is_clean() -> None:
    """A guest keeps its generated handle when it claims the account."""
    for adjective, animal in itertools.product(ADJECTIVES, ANIMALS):
        assert name_problem(f"{adjective}{animal}42", reserved=True) is None


def find(interests: list[str]) -> dict:
    return parse_frame(json.dumps({"type": "find", "interests": interests}))


@pytest.mark.parametrize("interest", ["fuck", "sh*t", "nazi faggots", "b1tch"])
def test_find_with_an_offensive_interest_is_refused(interest: str) -> None:
    with pytest.raises(FrameError) as refused:
        find(["music", interest])
    assert refused.value.code == "bad_frame"
    assert "interest 2 may not contain offensive words" in str(refused.value)


def test_find_with_ordinary_interests_passes_and_staff_words_are_fine_there() -> None:
    assert find(["Music", "badminton", "support groups", "cocktails"])["interests"] == [
        "music", "badminton", "support groups", "cocktails"]
