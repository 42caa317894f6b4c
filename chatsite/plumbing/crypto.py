"""Encryption at rest for kept history: a MultiFernet built from settings.

`HISTORY_KEYS` lists Fernet keys newest first: the first encrypts, every one decrypts, so a
new key is put in front and the old ones stay until `manage.py rotate_history_keys` has
re-encrypted everything. With no keys set, one is derived from SECRET_KEY.
"""
from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

__all__ = ("InvalidToken", "cipher", "decrypt_bytes", "decrypt_text", "encrypt_bytes",
           "encrypt_text", "rotate_token")


@lru_cache(maxsize=4)
def derived_key(secret_key: str) -> str:
    # A separate purpose string, so the key is not SECRET_KEY itself nor any Django signature.
    digest = hashlib.sha256(b"chat.history.fernet:" + secret_key.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


@lru_cache(maxsize=4)
def _cipher_for(keys: tuple[str, ...]) -> MultiFernet:
    fernets = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key))
        except ValueError as error:
            raise ImproperlyConfigured(
                f"HISTORY_KEYS: key {position} is not a Fernet key (32 url-safe base64-encoded "
                "bytes; make one with `python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`)") from error
    return MultiFernet(fernets)


def cipher() -> MultiFernet:
    keys = tuple(settings.HISTORY_KEYS) or (derived_key(settings.SECRET_KEY),)
    return _cipher_for(keys)


def encrypt_bytes(data: bytes) -> bytes:
    return cipher().encrypt(data)


def decrypt_bytes(token: bytes) -> bytes:
    return cipher().decrypt(bytes(token))


def encrypt_text(text: str) -> bytes:
    return encrypt_bytes(text.encode())


def decrypt_text(token: bytes) -> str:
    return decrypt_bytes(token).decode()


def rotate_token(token: bytes) -> bytes:
    """The same plaintext, encrypted with the newest key."""
    return cipher().rotate(bytes(token))
