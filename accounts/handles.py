"""Handles: the public name of an account, chosen at signup or generated for guests.

A handle is ASCII letters, digits, `_` and `-` so that no two handles look alike on screen
(no look-alike Unicode letters, no spaces); it is unique regardless of letter case.
"""
import re
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible

HANDLE_CHARACTERS = re.compile(r"[A-Za-z0-9_-]+")
# Pseudonyms of deleted accounts look like `deleted-3f9a2c` (see accounts.deletion); nobody
# may take a handle that moderators would read as one.
PSEUDONYM_PREFIX = "deleted-"

ADJECTIVES = (
    "Quiet", "Brave", "Calm", "Clever", "Cosmic", "Curious", "Daring", "Gentle", "Happy",
    "Jolly", "Kind", "Lucky", "Mellow", "Misty", "Nimble", "Polite", "Proud", "Rapid",
    "Shy", "Silver", "Sleepy", "Sunny", "Swift", "Witty", "Amber", "Bold", "Breezy",
    "Cheerful", "Dapper", "Electric", "Fuzzy", "Golden", "Humble", "Lively", "Lunar",
    "Merry", "Noble", "Plucky", "Rustic", "Snowy", "Spry", "Stellar", "Velvet", "Zesty",
)
ANIMALS = (
    "Otter", "Badger", "Falcon", "Fox", "Heron", "Koala", "Lynx", "Marmot", "Narwhal",
    "Owl", "Panda", "Penguin", "Quokka", "Raven", "Seal", "Sparrow", "Tiger", "Turtle",
    "Walrus", "Wombat", "Yak", "Zebra", "Beaver", "Bison", "Crane", "Dolphin", "Gecko",
    "Hedgehog", "Ibis", "Jackal", "Lemur", "Moose", "Newt", "Ocelot", "Puffin", "Robin",
    "Salmon", "Tapir", "Viper", "Wren",
)


@deconstructible
class HandleValidator:
    """Characters and length of a handle; the limits are read when a handle is checked."""

    def __call__(self, value: str) -> None:
        low, high = settings.HANDLE_MIN_LENGTH, settings.HANDLE_MAX_LENGTH
        if not low <= len(value) <= high:
            raise ValidationError(
                f"A handle is {low} to {high} characters long.", code="handle_length")
        if not HANDLE_CHARACTERS.fullmatch(value):
            raise ValidationError(
                "A handle may use only letters A-Z, digits, '_' and '-'.",
                code="handle_characters")
        if value.lower().startswith(PSEUDONYM_PREFIX):
            raise ValidationError(
                f"Handles beginning with '{PSEUDONYM_PREFIX}' are reserved.",
                code="handle_reserved")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HandleValidator)


def handle_taken(handle: str) -> bool:
    return get_user_model().objects.filter(username__iexact=handle).exists()


def generate_handle() -> str:
    """Return a handle nobody has yet; numbers widen as the short ones run out."""
    for digits in (2, 2, 3, 3, 4, 5, 6):
        handle = (
            secrets.choice(ADJECTIVES)
            + secrets.choice(ANIMALS)
            + str(secrets.randbelow(10**digits)).zfill(digits)
        )
        if not handle_taken(handle):
            return handle
    return "Guest" + secrets.token_hex(6)
