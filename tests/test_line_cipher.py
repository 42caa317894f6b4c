"""Lines in flight (the live log, the analysis queue) are sealed with AES-GCM under keys
derived from HISTORY_KEYS: they open with the keys in force, a key put in front still opens
what the older one sealed, a changed byte or a dropped key opens nothing, and a Fernet token
written by an older process still opens."""
import pytest
from cryptography.fernet import Fernet

from chatsite.plumbing import crypto
from chatsite.plumbing.crypto import InvalidToken, open_line_text, seal_line_text

LINE = '{"text":"call me at 555 123 4567 ✨"}'


def test_a_sealed_line_opens_to_itself_and_shows_nothing(settings) -> None:  # noqa: ANN001
    settings.HISTORY_KEYS = [Fernet.generate_key().decode()]
    first, second = seal_line_text(LINE), seal_line_text(LINE)
    assert first != second  # a fresh nonce each time
    assert "555" not in first and "call" not in first
    assert open_line_text(first) == open_line_text(second) == LINE


def test_keys_rotate_like_history_keys(settings) -> None:  # noqa: ANN001
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.HISTORY_KEYS = [old_key]
    old = seal_line_text(LINE)
    settings.HISTORY_KEYS = [new_key, old_key]
    new = seal_line_text(LINE)
    assert open_line_text(old) == open_line_text(new) == LINE
    settings.HISTORY_KEYS = [new_key]
    assert open_line_text(new) == LINE
    with pytest.raises(InvalidToken):
        open_line_text(old)


def test_a_changed_or_foreign_token_opens_nothing(settings) -> None:  # noqa: ANN001
    settings.HISTORY_KEYS = [Fernet.generate_key().decode()]
    token = seal_line_text(LINE)
    flipped = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    for bad in (flipped, token[:20], "~not base64!", "~"):
        with pytest.raises(InvalidToken):
            open_line_text(bad)


def test_a_fernet_token_from_an_older_process_still_opens(settings) -> None:  # noqa: ANN001
    settings.HISTORY_KEYS = [Fernet.generate_key().decode()]
    assert open_line_text(crypto.encrypt_text(LINE).decode()) == LINE
