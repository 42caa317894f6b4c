"""Friendly generated handles such as `QuietOtter42` for guest accounts."""
import secrets

from django.contrib.auth import get_user_model

ADJECTIVES = [
    "Quiet", "Brave", "Calm", "Clever", "Cosmic", "Curious", "Daring", "Gentle", "Happy",
    "Jolly", "Kind", "Lucky", "Mellow", "Misty", "Nimble", "Polite", "Proud", "Rapid",
    "Shy", "Silver", "Sleepy", "Sunny", "Swift", "Witty", "Amber", "Bold", "Breezy",
    "Cheerful", "Dapper", "Electric", "Fuzzy", "Golden", "Humble", "Lively", "Lunar",
    "Merry", "Noble", "Plucky", "Rustic", "Snowy", "Spry", "Stellar", "Velvet", "Zesty",
]
ANIMALS = [
    "Otter", "Badger", "Falcon", "Fox", "Heron", "Koala", "Lynx", "Marmot", "Narwhal",
    "Owl", "Panda", "Penguin", "Quokka", "Raven", "Seal", "Sparrow", "Tiger", "Turtle",
    "Walrus", "Wombat", "Yak", "Zebra", "Beaver", "Bison", "Crane", "Dolphin", "Gecko",
    "Hedgehog", "Ibis", "Jackal", "Lemur", "Moose", "Newt", "Ocelot", "Puffin", "Robin",
    "Salmon", "Tapir", "Viper", "Wren",
]


def generate_handle() -> str:
    """Return a handle nobody has yet; numbers widen as the short ones run out."""
    User = get_user_model()
    for digits in (2, 2, 3, 3, 4, 5, 6):
        handle = (
            secrets.choice(ADJECTIVES)
            + secrets.choice(ANIMALS)
            + str(secrets.randbelow(10**digits)).zfill(digits)
        )
        if not User.objects.filter(username__iexact=handle).exists():
            return handle
    return "Guest" + secrets.token_hex(6)
