"""The one rate limit (plumbing's lua/gcra.lua), on the embedded default (the same script in
this process) and on the real Redis: for the live socket's store, for each line, and for
requests (chatsite.plumbing.ratelimit.hit)."""
from __future__ import annotations

import pytest

from chat.store import RedisStore
from chatsite.plumbing.ratelimit import hit


@pytest.fixture(params=["embedded", "redis"])
def url(request: pytest.FixtureRequest) -> str:
    return "" if request.param == "embedded" else request.getfixturevalue("redis_url")


async def test_n_per_period_then_one_interval_to_wait(url: str) -> None:
    store = RedisStore(url, prefix="t")
    assert [await store.hit("k", "3/h") for _ in range(3)] == [None, None, None]
    wait = await store.hit("k", "3/h")
    # Evenly refilled: the next place is one interval (3600 s / 3) away, not the period's end.
    assert wait is not None and 1190 <= wait <= 1201
    assert await store.hit("other", "3/h") is None  # each key has its own budget


async def test_a_line_over_the_limit_is_refused_and_not_logged(url: str) -> None:
    store = RedisStore(url, prefix="t")
    line = {"sender": 1, "text": "hi"}
    assert await store.accept_line("c", line, "lines:1", "2/m") == (1, None)
    assert await store.accept_line("c", line, "lines:1", "2/m") == (2, None)
    seq, wait = await store.accept_line("c", line, "lines:1", "2/m")
    assert seq is None and wait is not None and 29 <= wait <= 31
    assert [logged["seq"] for logged in await store.lines_after("c", 0)] == [1, 2]


def test_requests_are_limited_where_the_settings_say(url: str, settings) -> None:  # noqa: ANN001
    settings.REDIS_URL = url
    assert [hit("guest:203.0.113.9", "2/h") for _ in range(2)] == [None, None]
    wait = hit("guest:203.0.113.9", "2/h")
    assert wait is not None and 1790 <= wait <= 1801
    assert hit("guest:203.0.113.10", "2/h") is None


def test_a_malformed_rate_is_a_clear_error(url: str, settings) -> None:  # noqa: ANN001
    settings.REDIS_URL = url
    with pytest.raises(ValueError, match="expected N/period"):
        hit("k", "lots")
