"""Rate limits written as `N/period` (`10/m`, `20/10s`), counted in fixed windows."""
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


def hit(key: str, rate: str) -> float | None:
    """Count one hit on the shared cache; return seconds to wait when over the limit."""
    limit, window = parse_rate(rate)
    now = time.time()
    bucket = int(now // window)
    cache_key = f"rl:{key}:{bucket}"
    cache.add(cache_key, 0, timeout=window + 1)
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.add(cache_key, 1, timeout=window + 1)
        count = 1
    if count > limit:
        return round((bucket + 1) * window - now, 2)
    return None
