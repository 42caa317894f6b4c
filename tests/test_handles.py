import re

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.handles import HandleValidator, generate_handle
from accounts.models import User

FRIENDLY = re.compile(r"^[A-Z][a-z]+[A-Z][a-z]+\d{2,6}$")

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("postgres")]


def test_generated_handles_read_like_adjective_animal_number():
    for _ in range(200):
        assert FRIENDLY.match(generate_handle())


def test_generated_handle_avoids_taken_ones_whatever_their_case():
    for _ in range(300):
        User.objects.create(username=generate_handle().lower())
    handles = {generate_handle() for _ in range(300)}
    taken = set(User.objects.values_list("username", flat=True))
    assert not {h.lower() for h in handles} & taken


@pytest.mark.parametrize("handle", ["QuietOtter42", "night_owl", "jazz-cat", "abc", "x" * 30])
def test_handles_of_letters_digits_dash_underscore_are_accepted(handle):
    HandleValidator()(handle)


@pytest.mark.parametrize("handle", [
    "ab", "x" * 31, "two words", "émile", "Ρaul", "<b>me</b>", "a@b.c", "name\n", "",
    "deleted-3f9a2c", "Deleted-anything",
])
def test_unsafe_short_long_or_reserved_handles_are_refused(handle):
    with pytest.raises(ValidationError):
        HandleValidator()(handle)


def test_handle_length_limit_follows_the_setting(settings):
    settings.HANDLE_MAX_LENGTH = 10
    HandleValidator()("x" * 10)
    with pytest.raises(ValidationError, match="3 to 10 characters"):
        HandleValidator()("x" * 11)


def test_database_refuses_a_handle_that_differs_only_in_case():
    User.objects.create(username="QuietOtter42")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username="quietotter42")
    assert User.objects.filter(username__iexact="quietotter42").count() == 1


def test_model_validation_reports_a_case_insensitive_clash_as_taken():
    User.objects.create(username="QuietOtter42")
    with pytest.raises(ValidationError, match="That handle is taken"):
        User(username="QUIETOTTER42", password="!").full_clean()
