"""Encryption at rest for kept history: a MultiFernet built from settings.

`HISTORY_KEYS` lists Fernet keys newest first: the first encrypts, every one decrypts, so a
new key is put in front and the old ones stay until `manage.py rotate_history_keys` has
re-encrypted everything. With no keys set, one is derived from SECRET_KEY.
"""
from __future__ import annotations

import base64
import hashlib
import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
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


def history_keys() -> tuple[str, ...]:
    return tuple(settings.HISTORY_KEYS) or (derived_key(settings.SECRET_KEY),)


def cipher() -> MultiFernet:
    return _cipher_for(history_keys())


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


# ---- lines in flight: the live log and the analysis queue

# A line in flight is sealed once on the relay's path for every line, where Fernet's
# CBC + HMAC, built from Python objects per call, cost ~30 us; AES-GCM is one C call (~4 us).
# Its keys are derived from HISTORY_KEYS (for this use only), newest first like them; a sealed
# line names its key by a 4-byte id. The marker tells it from a Fernet token, which older
# processes of a rolling upgrade still write (and the reader still opens).
SEALED_LINE_MARKER = "~"


@lru_cache(maxsize=4)
def _line_ciphers(keys: tuple[str, ...]) -> tuple[tuple[bytes, AESGCM], ...]:
    ciphers = []
    for key in keys:
        derived = hashlib.sha256(b"chat.live.aesgcm:" + key.encode()).digest()
        ciphers.append((hashlib.sha256(derived).digest()[:4], AESGCM(derived)))
    return tuple(ciphers)


def seal_line_text(text: str) -> str:
    """A line in flight (the live log's entry, the analysis queue's), encrypted: text."""
    key_id, aead = _line_ciphers(history_keys())[0]
    nonce = os.urandom(12)
    sealed = aead.encrypt(nonce, text.encode(), None)
    return SEALED_LINE_MARKER + base64.b64encode(key_id + nonce + sealed).decode()


def open_line_text(token: str) -> str:
    """What `seal_line_text` sealed (or a Fernet token of it); InvalidToken when no current
    key opens it."""
    if not token.startswith(SEALED_LINE_MARKER):
        return decrypt_text(token.encode())
    try:
        raw = base64.b64decode(token[1:], validate=True)
    except ValueError:
        raise InvalidToken from None
    for key_id, aead in _line_ciphers(history_keys()):
        if raw[:4] == key_id:
            try:
                return aead.decrypt(raw[4:16], raw[16:], None).decode()
            except InvalidTag:
                break
    raise InvalidToken
