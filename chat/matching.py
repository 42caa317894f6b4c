"""Who may be paired with whom, and the queue that pairs them.

The rules (PROTOCOL.md section 3): same mode always; same language where both gave one; never
oneself, never someone either side has blocked, not the partner just left; pairs sharing
interests first; after `MATCH_INTEREST_WAIT_SECONDS` a user with interests may be paired with
anyone. A waiting user holds a lease that the live socket renews, so that users whose socket
is gone are never handed out (no ghost matches).

Two backends with one interface: `MemoryMatcher` for the embedded single-process default and
`RedisMatcher` for several processes, where the whole decision runs as one Lua script so that
two processes can never hand out the same waiting user.
"""
from __future__ import annotations

import json
import time
import unicodedata
from dataclasses import dataclass, field
from typing import Protocol

from django.conf import settings

MODES = ("text", "voice", "video")


def normalise_interest(tag: str) -> str:
    """Case, Unicode form and inner whitespace do not make two interests different."""
    return " ".join(unicodedata.normalize("NFKC", tag).casefold().split())


def normalise_interests(tags: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for tag in tags:
        clean = normalise_interest(tag)
        if clean:
            seen.setdefault(clean, None)
    return list(seen)


@dataclass
class Seeker:
    user_id: int
    channel: str
    mode: str
    lang: str | None = None
    interests: list[str] = field(default_factory=list)
    # Users this one must not meet: blocked either way, and the partner just left.
    excluded: list[int] = field(default_factory=list)
    handle: str = ""
    keeps_history: bool = False
    since_ms: int = 0
    lease_until_ms: int = 0

    def to_json(self) -> str:
        return json.dumps(self.__dict__, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str) -> Seeker:
        data = json.loads(raw)
        # cjson writes an empty list as an empty object.
        for key in ("interests", "excluded"):
            if not isinstance(data.get(key), list):
                data[key] = []
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass
class Pairing:
    """A decision: `waiting` was in the queue and is now paired with `seeker`."""

    seeker: Seeker
    waiting: Seeker
    common_interests: list[str]


def pair_score(a: Seeker, b: Seeker, now_ms: int, interest_wait_ms: int) -> int | None:
    """None when `a` and `b` may not be paired now, else how many interests they share."""
    if a.user_id == b.user_id or a.mode != b.mode:
        return None
    if a.lang and b.lang and a.lang != b.lang:
        return None
    if b.user_id in a.excluded or a.user_id in b.excluded:
        return None
    common = len(set(a.interests) & set(b.interests))
    if common:
        return common

    def open_to_anyone(s: Seeker) -> bool:
        return not s.interests or now_ms - s.since_ms >= interest_wait_ms

    return 0 if open_to_anyone(a) and open_to_anyone(b) else None


def now_ms() -> int:
    return int(time.time() * 1000)


# find_partner(renew=True) answers this when the seeker is no longer queued: another process
# has just paired it (its `matched` is on the way), or its lease ran out.
NOT_QUEUED = "not-queued"


class Matcher(Protocol):
    async def find_partner(self, seeker: Seeker, renew: bool = False) -> Pairing | str | None:
        """Pair `seeker` with the best waiting user, or queue it.

        `renew` is a retry by a seeker that is already queued: it renews the lease, and it
        never queues the seeker again once someone else has taken it out."""

    async def cancel(self, user_id: int, channel: str | None = None) -> bool:
        """Take the user out of the queue; False when it was not there.

        With `channel`, only an entry made by that socket is taken out, so that an old socket
        closing late cannot cancel the search of the socket that replaced it."""

    async def waiting_count(self, mode: str) -> int: ...


def _common(a: Seeker, b: Seeker) -> list[str]:
    theirs = set(b.interests)
    return [tag for tag in a.interests if tag in theirs]


class MemoryMatcher:
    """The queue in this process's memory: the embedded default, one server process."""

    def __init__(self, interest_wait_s: float | None = None, lease_s: float | None = None):
        self.interest_wait_ms = int(1000 * (interest_wait_s if interest_wait_s is not None
                                            else settings.MATCH_INTEREST_WAIT_SECONDS))
        self.lease_ms = int(1000 * (lease_s if lease_s is not None
                                    else settings.MATCH_LEASE_SECONDS))
        # Insertion order is arrival order. The methods never await, so on one event loop
        # each decision is atomic without a lock.
        self.waiting: dict[int, Seeker] = {}

    async def find_partner(self, seeker: Seeker, renew: bool = False) -> Pairing | str | None:
        now = now_ms()
        queued = self.waiting.get(seeker.user_id)
        if queued is not None and queued.lease_until_ms < now:
            # A lapsed lease counts as gone, also for its own socket: the same rule as Redis.
            del self.waiting[seeker.user_id]
            queued = None
        if renew and (queued is None or queued.channel != seeker.channel):
            return NOT_QUEUED
        seeker.since_ms = queued.since_ms if queued and queued.mode == seeker.mode else now
        seeker.lease_until_ms = now + self.lease_ms
        best: Seeker | None = None
        best_score = -1
        for other in list(self.waiting.values()):
            if other.user_id == seeker.user_id:
                continue
            if other.lease_until_ms < now:
                del self.waiting[other.user_id]
                continue
            score = pair_score(seeker, other, now, self.interest_wait_ms)
            if score is not None and score > best_score:
                best, best_score = other, score
        if best is None:
            if queued is not None and queued.mode == seeker.mode:
                queued.__dict__.update(seeker.__dict__)
            else:
                # Insertion order is arrival order: a new search (or a new mode) goes last.
                self.waiting.pop(seeker.user_id, None)
                self.waiting[seeker.user_id] = seeker
            return None
        del self.waiting[best.user_id]
        self.waiting.pop(seeker.user_id, None)
        return Pairing(seeker=seeker, waiting=best, common_interests=_common(seeker, best))

    async def cancel(self, user_id: int, channel: str | None = None) -> bool:
        queued = self.waiting.get(user_id)
        if queued is None or (channel is not None and queued.channel != channel):
            return False
        del self.waiting[user_id]
        return True

    async def waiting_count(self, mode: str) -> int:
        now = now_ms()
        return sum(1 for s in self.waiting.values() if s.mode == mode and s.lease_until_ms >= now)


# KEYS: 1 = the mode's queue (zset user id -> arrival), 2 = entries (hash user id -> json),
#       3 = which queue each user is in (hash user id -> queue key)
# ARGV: 1 = seeker json, 2 = interest wait ms, 3 = lease ms, 4 = how many waiting to look at,
#       5 = '1' for a renewal
# Returns nil when queued, 'not-queued' for a renewal of a seeker no longer queued, else json
# {"partner": entry, "common": [...], "since": ms}.
# The rules mirror pair_score(); tests run the same cases against both backends.
FIND_PARTNER_LUA = """
local me = cjson.decode(ARGV[1])
local wait, lease, scan = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local uid = tostring(me.user_id)

local old_queue = redis.call('HGET', KEYS[3], uid)
local old = old_queue and redis.call('HGET', KEYS[2], uid)
old = old and cjson.decode(old)
-- A lapsed lease counts as gone, also for its own socket.
if old and old.lease_until_ms < now then
  old = nil
  redis.call('ZREM', old_queue, uid)
  redis.call('HDEL', KEYS[2], uid)
  redis.call('HDEL', KEYS[3], uid)
  old_queue = nil
end
if ARGV[5] == '1' and not (old and old_queue == KEYS[1] and old.channel == me.channel) then
  return 'not-queued'
end
me.since_ms = now
if old_queue == KEYS[1] and old then
  me.since_ms = old.since_ms
elseif old_queue then
  redis.call('ZREM', old_queue, uid)
end
me.lease_until_ms = now + lease

local function as_set(list)
  local s = {}
  if type(list) == 'table' then for _, v in ipairs(list) do s[tostring(v)] = true end end
  return s
end
local function count(list) if type(list) == 'table' then return #list end return 0 end

local my_tags, my_excluded = as_set(me.interests), as_set(me.excluded)
local my_open = count(me.interests) == 0 or now - me.since_ms >= wait

local best, best_score, best_common = nil, -1, nil
-- The longest waiting come first. A renewal in a queue longer than the scan looks at a
-- window that moves with the clock, so that two compatible users far back in a long queue
-- of others still find each other.
local first = 0
local queued = redis.call('ZCARD', KEYS[1])
if ARGV[5] == '1' and queued > scan then
  first = tonumber(t[2]) % (queued - scan + 1)
end
local ids = redis.call('ZRANGE', KEYS[1], first, first + scan - 1)
for _, other_id in ipairs(ids) do
  if other_id ~= uid then
    local raw = redis.call('HGET', KEYS[2], other_id)
    local o = raw and cjson.decode(raw)
    if not o or o.lease_until_ms < now then
      redis.call('ZREM', KEYS[1], other_id)
      redis.call('HDEL', KEYS[2], other_id)
      redis.call('HDEL', KEYS[3], other_id)
    elseif o.mode == me.mode
        and not (type(me.lang) == 'string' and type(o.lang) == 'string' and me.lang ~= o.lang)
        and not my_excluded[other_id] and not as_set(o.excluded)[uid] then
      local common = {}
      if type(o.interests) == 'table' then
        for _, tag in ipairs(o.interests) do
          if my_tags[tag] then table.insert(common, tag) end
        end
      end
      local score = #common
      if score == 0 then
        local other_open = count(o.interests) == 0 or now - o.since_ms >= wait
        if not (my_open and other_open) then score = nil end
      end
      if score and score > best_score then
        best, best_score, best_common = o, score, common
      end
    end
  end
end

if best then
  local bid = tostring(best.user_id)
  redis.call('ZREM', KEYS[1], bid, uid)
  redis.call('HDEL', KEYS[2], bid, uid)
  redis.call('HDEL', KEYS[3], bid, uid)
  if #best_common == 0 then best_common = cjson.decode('[]') end
  return cjson.encode({partner = best, common = best_common, since = me.since_ms})
end
if redis.call('ZSCORE', KEYS[1], uid) == false then
  redis.call('ZADD', KEYS[1], me.since_ms, uid)
end
redis.call('HSET', KEYS[2], uid, cjson.encode(me))
redis.call('HSET', KEYS[3], uid, KEYS[1])
return nil
"""

# KEYS: 1 = entries, 2 = user -> queue; ARGV: 1 = user id, 2 = channel or ''
CANCEL_LUA = """
local q = redis.call('HGET', KEYS[2], ARGV[1])
if not q then return 0 end
if ARGV[2] ~= '' then
  local raw = redis.call('HGET', KEYS[1], ARGV[1])
  if raw and cjson.decode(raw).channel ~= ARGV[2] then return 0 end
end
redis.call('ZREM', q, ARGV[1])
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
"""

# KEYS: 1 = the mode's queue, 2 = entries. Counts the entries whose lease still holds.
WAITING_COUNT_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = 0
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local raw = redis.call('HGET', KEYS[2], id)
  if raw and cjson.decode(raw).lease_until_ms >= now then n = n + 1 end
end
return n
"""


class RedisMatcher:
    """The queue in Redis, shared by every server process."""

    def __init__(self, url: str, prefix: str = "match", interest_wait_s: float | None = None,
                 lease_s: float | None = None, scan: int = 500):
        self.url = url
        self.prefix = prefix
        self.interest_wait_ms = int(1000 * (interest_wait_s if interest_wait_s is not None
                                            else settings.MATCH_INTEREST_WAIT_SECONDS))
        self.lease_ms = int(1000 * (lease_s if lease_s is not None
                                    else settings.MATCH_LEASE_SECONDS))
        self.scan = scan
        self.entries_key = f"{prefix}:entries"
        self.where_key = f"{prefix}:where"

    def _redis(self):  # noqa: ANN202 - redis.asyncio.Redis
        from chat.redis_client import get_redis

        return get_redis(self.url)

    def queue_key(self, mode: str) -> str:
        return f"{self.prefix}:queue:{mode}"

    async def find_partner(self, seeker: Seeker, renew: bool = False) -> Pairing | str | None:
        redis = self._redis()
        script = redis.register_script(FIND_PARTNER_LUA)
        raw = await script(
            keys=[self.queue_key(seeker.mode), self.entries_key, self.where_key],
            args=[seeker.to_json(), self.interest_wait_ms, self.lease_ms, self.scan,
                  "1" if renew else "0"],
        )
        if raw is None or raw == NOT_QUEUED:
            return raw
        decided = json.loads(raw)
        seeker.since_ms = decided["since"]
        common = decided["common"] if isinstance(decided["common"], list) else []
        return Pairing(seeker=seeker, waiting=Seeker.from_json(json.dumps(decided["partner"])),
                       common_interests=_order_like(seeker.interests, common))

    async def cancel(self, user_id: int, channel: str | None = None) -> bool:
        redis = self._redis()
        script = redis.register_script(CANCEL_LUA)
        return bool(await script(keys=[self.entries_key, self.where_key],
                                 args=[user_id, channel or ""]))

    async def waiting_count(self, mode: str) -> int:
        redis = self._redis()
        script = redis.register_script(WAITING_COUNT_LUA)
        return int(await script(keys=[self.queue_key(mode), self.entries_key]))


def _order_like(order: list[str], tags: list[str]) -> list[str]:
    wanted = set(tags)
    return [tag for tag in order if tag in wanted]


_matcher: MemoryMatcher | RedisMatcher | None = None


def get_matcher() -> MemoryMatcher | RedisMatcher:
    global _matcher
    if _matcher is None:
        _matcher = RedisMatcher(settings.REDIS_URL) if settings.REDIS_URL else MemoryMatcher()
    return _matcher


def reset_matcher() -> None:
    """Forget the backend, for tests that change settings."""
    global _matcher
    _matcher = None
