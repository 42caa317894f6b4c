"""Rate limits written as `N/period` (`10/m`, `20/10s`), enforced by the generic cell rate
algorithm: at most N hits in any period, evenly refilled, so there is no burst at a window's
edge. The rule exists once, as `lua/gcra.lua`: the live store runs it for sockets (with each
line, in one script) and `hit` runs it for requests, in Redis, or with no Redis URL in this
process's own (chatsite.plumbing.lua)."""
import re
from types import MappingProxyType

from django.conf import settings

from chatsite.plumbing.lua import LuaRedis
from chatsite.plumbing.runtime import runtime

_UNITS = MappingProxyType({"s": 1, "m": 60, "h": 3600, "d": 86400})
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])\s*$")


def parse_rate(rate: str) -> tuple[int, int]:
    """`"20/10s"` -> (20, 10): at most 20 hits in any 10-second window."""
    match = _RATE.match(rate)
    if not match:
        raise ValueError(f"bad rate {rate!r}: expected N/period such as 10/m or 20/10s")
    count, multiple, unit = match.groups()
    return int(count), int(multiple or 1) * _UNITS[unit]


def hit(key: str, rate: str) -> float | None:
    """Count one hit; return seconds to wait when over the limit. One script: two requests at
    the same instant cannot both take the last place."""
    limit, window = parse_rate(rate)
    url = settings.REDIS_URL
    limiter = runtime().part(f"ratelimit:{url}", lambda: LuaRedis(url))
    wait_ms = int(limiter.sync_script("hit")(keys=[f"rl:{key}"], args=[limit, window * 1000]))
    return wait_ms / 1000 if wait_ms else None


def reset_limits() -> None:
    """Forget the embedded limiter's counts (tests); a Redis's counts are the Redis's."""
    runtime().forget("ratelimit:")
