"""Who may be paired with whom, and the queue that pairs them.

The rules (PROTOCOL.md section 3): same mode always; same language where both gave one, except
that a user who practises a language meets only people whose `lang` is that language (tandem
partners first, then anyone speaking it, never another language); never oneself, never someone
either side has blocked, not the partner just left (for `LAST_PARTNER_SECONDS`); pairs sharing
interests first; after `MATCH_INTEREST_WAIT_SECONDS` a user with interests may be paired with
anyone. A waiting user holds a lease that the live socket renews, so that users whose socket
is gone are never handed out (no ghost matches).

`pair_score` is the rule on the Python side. Two backends with one interface: `MemoryMatcher`
for the embedded single-process default and `RedisMatcher` for several processes, where the
whole decision runs as one Lua script (mirroring `pair_score`) so that two processes can never
hand out the same waiting user. Both keep a per-mode count of who is searching.
"""
from __future__ import annotations

import heapq
import json
import time
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.conf import settings

MODES = ("text", "voice", "video")
# A tandem partner outranks any number of shared interests (there are at most MAX_INTERESTS).
TANDEM_SCORE = 1000


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
    # Users this one must never meet: blocked either way.
    excluded: list[int] = field(default_factory=list)
    handle: str = ""
    keeps_history: bool = False
    since_ms: int = 0
    lease_until_ms: int = 0
    # The language this user wants to practise (PROTOCOL.md section 3), never equal to `lang`.
    practice: str | None = None
    # The partner just left, not offered again until the time given (0: nobody).
    last_partner: int = 0
    last_partner_until_ms: int = 0

    def keeps_apart_from(self, other_id: int, now: int) -> bool:
        return other_id in self.excluded or (
            other_id == self.last_partner and now < self.last_partner_until_ms)

    def to_json(self) -> str:
        data = dict(self.__dict__)
        # A string the Lua script searches without decoding a list per candidate.
        data["excluded"] = "," + "".join(f"{uid}," for uid in self.excluded)
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str) -> Seeker:
        return cls.from_dict(json.loads(raw))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Seeker:
        excluded = data.get("excluded")
        data["excluded"] = ([int(uid) for uid in excluded.split(",") if uid]
                            if isinstance(excluded, str) else [])
        # cjson writes an empty list as an empty object, and null as a sentinel.
        if not isinstance(data.get("interests"), list):
            data["interests"] = []
        for key in ("lang", "practice"):
            if not isinstance(data.get(key), str):
                data[key] = None
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass
class Pairing:
    """A decision: `waiting` was in the queue and is now paired with `seeker`."""

    seeker: Seeker
    waiting: Seeker
    common_interests: list[str]

    @property
    def tandem(self) -> bool:
        return is_tandem(self.seeker, self.waiting)


def languages_fit(a: Seeker, b: Seeker) -> bool:
    """Section 3: a side that practises a language needs a partner whose `lang` is it; for such
    a pair that replaces the rule that two given languages are the same."""
    if a.practice or b.practice:
        return (not a.practice or b.lang == a.practice) and (not b.practice or a.lang == b.practice)
    return not (a.lang and b.lang and a.lang != b.lang)


def is_tandem(a: Seeker, b: Seeker) -> bool:
    return bool(a.practice and b.practice) and languages_fit(a, b)


def pair_score(a: Seeker, b: Seeker, now_ms: int, interest_wait_ms: int) -> int | None:
    """None when `a` and `b` may not be paired now, else how good the pair is: a tandem first,
    then the number of shared interests."""
    if a.user_id == b.user_id or a.mode != b.mode or not languages_fit(a, b):
        return None
    if a.keeps_apart_from(b.user_id, now_ms) or b.keeps_apart_from(a.user_id, now_ms):
        return None
    common = len(set(a.interests) & set(b.interests))
    if not common:
        def open_to_anyone(s: Seeker) -> bool:
            return not s.interests or now_ms - s.since_ms >= interest_wait_ms

        if not (open_to_anyone(a) and open_to_anyone(b)):
            return None
    return common + (TANDEM_SCORE if a.practice and b.practice else 0)


def best_possible_score(seeker: Seeker) -> int:
    """No partner can score more: a scan that finds this score stops there."""
    return len(seeker.interests) + (TANDEM_SCORE if seeker.practice else 0)


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

    async def waiting_count(self, mode: str, except_user: int | None = None) -> int:
        """How many are searching in `mode` (besides `except_user`): a counter, not a scan."""


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
        # One queue per mode; insertion order is arrival order. The methods never await, so on
        # one event loop each decision is atomic without a lock.
        self.queues: dict[str, dict[int, Seeker]] = {mode: {} for mode in MODES}
        self.mode_of: dict[int, str] = {}
        # (lease end, user id), to drop lapsed entries without looking at everyone.
        self.leases: list[tuple[int, int]] = []

    def _entry(self, user_id: int) -> Seeker | None:
        mode = self.mode_of.get(user_id)
        return None if mode is None else self.queues[mode].get(user_id)

    def _remove(self, user_id: int) -> None:
        mode = self.mode_of.pop(user_id, None)
        if mode is not None:
            self.queues[mode].pop(user_id, None)

    def _drop_lapsed(self, now: int) -> None:
        while self.leases and self.leases[0][0] < now:
            _, user_id = heapq.heappop(self.leases)
            entry = self._entry(user_id)
            if entry is not None and entry.lease_until_ms < now:
                self._remove(user_id)

    def _best(self, seeker: Seeker, now: int) -> Seeker | None:
        best: Seeker | None = None
        best_score = -1
        ceiling = best_possible_score(seeker)
        for other in self.queues[seeker.mode].values():
            score = pair_score(seeker, other, now, self.interest_wait_ms)
            if score is not None and score > best_score:
                best, best_score = other, score
                if score == ceiling:
                    break  # nobody later in the queue can beat the longest waiting of these
        return best

    async def find_partner(self, seeker: Seeker, renew: bool = False) -> Pairing | str | None:
        now = now_ms()
        self._drop_lapsed(now)
        queued = self._entry(seeker.user_id)
        if queued is not None and queued.lease_until_ms < now:
            # A lapsed lease counts as gone, also for its own socket: the same rule as Redis.
            self._remove(seeker.user_id)
            queued = None
        if renew and (queued is None or queued.channel != seeker.channel
                      or queued.mode != seeker.mode):
            return NOT_QUEUED
        same_queue = queued is not None and queued.mode == seeker.mode
        seeker.since_ms = queued.since_ms if same_queue else now
        seeker.lease_until_ms = now + self.lease_ms
        best = self._best(seeker, now)
        if best is None:
            if same_queue:
                queued.__dict__.update(seeker.__dict__)
            else:
                # Insertion order is arrival order: a new search (or a new mode) goes last.
                self._remove(seeker.user_id)
                self.queues[seeker.mode][seeker.user_id] = seeker
                self.mode_of[seeker.user_id] = seeker.mode
            heapq.heappush(self.leases, (seeker.lease_until_ms, seeker.user_id))
            return None
        self._remove(best.user_id)
        self._remove(seeker.user_id)
        return Pairing(seeker=seeker, waiting=best, common_interests=_common(seeker, best))

    async def cancel(self, user_id: int, channel: str | None = None) -> bool:
        queued = self._entry(user_id)
        if queued is None or (channel is not None and queued.channel != channel):
            return False
        self._remove(user_id)
        return True

    async def waiting_count(self, mode: str, except_user: int | None = None) -> int:
        self._drop_lapsed(now_ms())
        queue = self.queues[mode]
        return len(queue) - (except_user in queue)


# Shared by the scripts. KEYS: 1 = entries (hash user id -> json), 2 = leases (zset user id ->
# lease end); ARGV[1] = the key prefix. An entry is filed, by arrival, in its mode's queue
# (`queue:<mode>`, whose size is the count of who is searching), in one language list
# (`lang:<mode>:<lang>` or `nolang:<mode>`), in `practice:<mode>:<lang>` for who practises, in
# `tag:<mode>:<interest>` for each interest, and in `plain:<mode>` without interests. A decision
# looks only at the lists where a partner can be, so a long queue of others costs nothing.
COMMON_LUA = """
local P, ENTRIES, LEASES = ARGV[1], KEYS[1], KEYS[2]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function str(v) if type(v) == 'string' and v ~= '' then return v end return nil end
local function lists_of(e)
  local l = {P .. ':queue:' .. e.mode}
  local lang, practice = str(e.lang), str(e.practice)
  l[2] = lang and (P .. ':lang:' .. e.mode .. ':' .. lang) or (P .. ':nolang:' .. e.mode)
  if practice then table.insert(l, P .. ':practice:' .. e.mode .. ':' .. practice) end
  if type(e.interests) == 'table' and #e.interests > 0 then
    for _, tag in ipairs(e.interests) do table.insert(l, P .. ':tag:' .. e.mode .. ':' .. tag) end
  else
    table.insert(l, P .. ':plain:' .. e.mode)
  end
  return l
end
local function drop(id, e)
  if e then for _, k in ipairs(lists_of(e)) do redis.call('ZREM', k, id) end end
  redis.call('HDEL', ENTRIES, id)
  redis.call('ZREM', LEASES, id)
end
-- Entries whose socket stopped renewing, a bounded number per call.
for _, id in ipairs(redis.call('ZRANGEBYSCORE', LEASES, '-inf', now - 1, 'LIMIT', 0, 50)) do
  local raw = redis.call('HGET', ENTRIES, id)
  drop(id, raw and cjson.decode(raw))
end
"""

# ARGV: 2 = seeker json, 3 = interest wait ms, 4 = lease ms, 5 = how many waiting to look at
# per list, 6 = '1' for a renewal, 7 = TANDEM_SCORE.
# Returns nil when queued, 'not-queued' for a renewal of a seeker no longer queued, else json
# {"partner": entry, "common": [...], "since": ms}.
# The rules mirror pair_score(); tests run the same cases against both backends.
FIND_PARTNER_LUA = COMMON_LUA + """
local me = cjson.decode(ARGV[2])
local wait, lease, scan = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local renew, TANDEM = ARGV[6] == '1', tonumber(ARGV[7])
local uid, M = tostring(me.user_id), me.mode
local my_lang, my_practice = str(me.lang), str(me.practice)

local raw_old = redis.call('HGET', ENTRIES, uid)
local old = raw_old and cjson.decode(raw_old)
-- A lapsed lease counts as gone, also for its own socket.
if old and old.lease_until_ms < now then
  drop(uid, old)
  old = nil
end
if renew and not (old and old.mode == M and old.channel == me.channel) then
  return 'not-queued'
end
me.since_ms = now
if old and old.mode == M then me.since_ms = old.since_ms end
if old and not renew then
  -- A new search files the user afresh (its interests or language may differ), keeping its
  -- place in the queue when the mode is the same.
  drop(uid, old)
  old = nil
end
me.lease_until_ms = now + lease

local function count(list) if type(list) == 'table' then return #list end return 0 end
local function open(s) return count(s.interests) == 0 or now - s.since_ms >= wait end
local function fits(a, b)
  local a_practice, b_practice = str(a.practice), str(b.practice)
  if a_practice or b_practice then
    return (not a_practice or str(b.lang) == a_practice)
       and (not b_practice or str(a.lang) == b_practice)
  end
  return not (str(a.lang) and str(b.lang) and a.lang ~= b.lang)
end
local function apart(a, b_id)
  return string.find(a.excluded or ',', ',' .. b_id .. ',', 1, true) ~= nil
      or (tostring(a.last_partner) == b_id and now < (tonumber(a.last_partner_until_ms) or 0))
end

local my_tags = {}
if type(me.interests) == 'table' then for _, v in ipairs(me.interests) do my_tags[v] = true end end
local my_open = open(me)
local ceiling = count(me.interests) + (my_practice and TANDEM or 0)

-- Where a partner can be: who shares an interest; then, once open to anyone, who has no
-- interests, and by language: who speaks the practised language; else who speaks mine, who
-- gave none, and who practises mine; a seeker without a language: who gave none, then anyone.
-- (Those with interests who are open to anyone have waited longest: the front of a list.)
local lists = {}
if type(me.interests) == 'table' then
  for _, tag in ipairs(me.interests) do table.insert(lists, P .. ':tag:' .. M .. ':' .. tag) end
end
if my_open then
  table.insert(lists, P .. ':plain:' .. M)
  if my_practice then
    table.insert(lists, P .. ':lang:' .. M .. ':' .. my_practice)
  elseif my_lang then
    table.insert(lists, P .. ':lang:' .. M .. ':' .. my_lang)
    table.insert(lists, P .. ':nolang:' .. M)
    table.insert(lists, P .. ':practice:' .. M .. ':' .. my_lang)
  else
    table.insert(lists, P .. ':nolang:' .. M)
    table.insert(lists, P .. ':queue:' .. M)
  end
end

local best, best_score, best_common, best_since = nil, -1, nil, nil
local seen = {}
for _, key in ipairs(lists) do
  local ids
  if best_score == ceiling then
    -- Only someone who has waited longer could still come first.
    ids = redis.call('ZRANGEBYSCORE', key, '-inf', '(' .. best_since, 'LIMIT', 0, scan)
  else
    -- The longest waiting come first. A renewal in a list longer than the scan looks at a
    -- window that moves with the clock, so that two compatible users far back in a long
    -- queue of others still find each other.
    local first = 0
    if renew then
      local n = redis.call('ZCARD', key)
      if n > scan then first = tonumber(t[2]) % (n - scan + 1) end
    end
    ids = redis.call('ZRANGE', key, first, first + scan - 1)
  end
  for _, other_id in ipairs(ids) do
    if other_id ~= uid and not seen[other_id] then
      seen[other_id] = true
      local raw = redis.call('HGET', ENTRIES, other_id)
      local o = raw and cjson.decode(raw)
      if not o or o.lease_until_ms < now then
        if o then drop(other_id, o) else redis.call('ZREM', key, other_id) end
      elseif o.mode == M and fits(me, o) and not apart(me, other_id) and not apart(o, uid) then
        local common = {}
        if type(o.interests) == 'table' then
          for _, tag in ipairs(o.interests) do
            if my_tags[tag] then table.insert(common, tag) end
          end
        end
        local score = #common
        if score == 0 and not (my_open and open(o)) then score = nil end
        if score and my_practice and str(o.practice) then score = score + TANDEM end
        if score and (score > best_score or (score == best_score and o.since_ms < best_since)) then
          best, best_score, best_common, best_since = o, score, common, o.since_ms
          if score == ceiling then break end
        end
      end
    end
  end
end

if best then
  drop(tostring(best.user_id), best)
  if old then drop(uid, old) end
  if #best_common == 0 then best_common = cjson.decode('[]') end
  return cjson.encode({partner = best, common = best_common, since = me.since_ms})
end
for _, k in ipairs(lists_of(me)) do redis.call('ZADD', k, 'NX', me.since_ms, uid) end
redis.call('HSET', ENTRIES, uid, cjson.encode(me))
redis.call('ZADD', LEASES, me.lease_until_ms, uid)
return nil
"""

# ARGV: 2 = user id, 3 = channel or ''
CANCEL_LUA = COMMON_LUA + """
local raw = redis.call('HGET', ENTRIES, ARGV[2])
if not raw then return 0 end
local e = cjson.decode(raw)
if ARGV[3] ~= '' and e.channel ~= ARGV[3] then return 0 end
drop(ARGV[2], e)
return 1
"""

# ARGV: 2 = mode, 3 = user id not to count or ''. The mode queue's size: no scan.
WAITING_COUNT_LUA = COMMON_LUA + """
local key = P .. ':queue:' .. ARGV[2]
local n = redis.call('ZCARD', key)
if ARGV[3] ~= '' and redis.call('ZSCORE', key, ARGV[3]) then n = n - 1 end
return n
"""


class RedisMatcher:
    """The queue in Redis, shared by every server process."""

    def __init__(self, url: str, prefix: str = "match", interest_wait_s: float | None = None,
                 lease_s: float | None = None, scan: int | None = None):
        self.url = url
        self.prefix = prefix
        self.interest_wait_ms = int(1000 * (interest_wait_s if interest_wait_s is not None
                                            else settings.MATCH_INTEREST_WAIT_SECONDS))
        self.lease_ms = int(1000 * (lease_s if lease_s is not None
                                    else settings.MATCH_LEASE_SECONDS))
        self.scan = scan if scan is not None else settings.MATCH_SCAN_WINDOW
        self.entries_key = f"{prefix}:entries"
        self.leases_key = f"{prefix}:leases"
        # Scripts registered once per client (hashing a script on every call cost a find).
        self._scripts: dict[tuple[int, str], Any] = {}

    def _redis(self):  # noqa: ANN202 - redis.asyncio.Redis
        from chatsite.plumbing.redis_client import get_redis

        return get_redis(self.url)

    async def _run(self, source: str, *args: object) -> Any:
        redis = self._redis()
        key = (id(redis), source)
        script = self._scripts.get(key)
        if script is None:
            script = self._scripts[key] = redis.register_script(source)
        return await script(keys=[self.entries_key, self.leases_key], args=[self.prefix, *args])

    def queue_key(self, mode: str) -> str:
        return f"{self.prefix}:queue:{mode}"

    async def find_partner(self, seeker: Seeker, renew: bool = False) -> Pairing | str | None:
        raw = await self._run(FIND_PARTNER_LUA, seeker.to_json(), self.interest_wait_ms,
                              self.lease_ms, self.scan, "1" if renew else "0", TANDEM_SCORE)
        if raw is None or raw == NOT_QUEUED:
            return raw
        decided = json.loads(raw)
        seeker.since_ms = decided["since"]
        common = decided["common"] if isinstance(decided["common"], list) else []
        return Pairing(seeker=seeker, waiting=Seeker.from_dict(decided["partner"]),
                       common_interests=_order_like(seeker.interests, common))

    async def cancel(self, user_id: int, channel: str | None = None) -> bool:
        return bool(await self._run(CANCEL_LUA, user_id, channel or ""))

    async def waiting_count(self, mode: str, except_user: int | None = None) -> int:
        return int(await self._run(WAITING_COUNT_LUA, mode,
                                   "" if except_user is None else except_user))


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
