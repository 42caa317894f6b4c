"""Rate limits written as `N/period` (`10/m`, `20/10s`), enforced by the generic cell rate
algorithm: at most N hits in any period, evenly refilled, so there is no burst at a window's
edge. `gcra` is the rule; chat.store applies it to the live socket (in memory, or as its Lua
twin in Redis) and `hit` applies it to requests, on the shared cache."""
import re
import time

from django.core.cache import cache

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])\s*$")


def parse_rate(rate: str) -> tuple[int, int]:
    """`"20/10s"` -> (20, 10): at most 20 hits in any 10-second window."""
    match = _RATE.match(rate)
    if not match:
        raise ValueError(f"bad rate {rate!r}: expected N/period such as 10/m or 20/10s")
    count, multiple, unit = match.groups()
    return int(count), int(multiple or 1) * _UNITS[unit]


def gcra(tat_ms: int, now: int, limit: int, window_ms: int) -> tuple[int, int]:
    """The generic cell rate algorithm: at most `limit` hits in any `window_ms`, evenly
    refilled, with no burst at a window's edge. Returns (ms to wait, or 0, new arrival time)."""
    interval = window_ms / limit
    next_tat = max(tat_ms, now) + interval
    allowed_at = next_tat - window_ms
    if allowed_at > now:
        return int(allowed_at - now) + 1, tat_ms
    return 0, int(next_tat)


def hit(key: str, rate: str) -> float | None:
    """Count one hit on the shared cache; return seconds to wait when over the limit.

    The read and the write are two cache calls: two requests at the same instant may both
    pass, which lets a limit slip by one, never by a window's worth."""
    limit, window = parse_rate(rate)
    now = int(time.time() * 1000)
    cache_key = f"rl:{key}"
    retry_ms, next_tat = gcra(int(cache.get(cache_key) or 0), now, limit, window * 1000)
    if retry_ms:
        return retry_ms / 1000
    cache.set(cache_key, next_tat, timeout=window + 1)
    return None
