"""Who may be paired with whom, and the queue that pairs them.

The rules (PROTOCOL.md section 3): same mode always; same language where both gave one, except
that a user who practises a language meets only people whose `lang` is that language (tandem
partners first, then anyone speaking it, never another language); never oneself, never someone
either side has blocked, not the partner just left (for `LAST_PARTNER_SECONDS`); pairs sharing
interests first; after `MATCH_INTEREST_WAIT_SECONDS` a user with interests may be paired with
anyone. A waiting user holds a lease that the live socket renews, so that users whose socket
is gone are never handed out (no ghost matches).

The rule itself is one Lua script, `chat/lua/find_partner.lua`, run as one step in Redis so
that two processes can never hand out the same waiting user; without a Redis URL the same
script runs in this process (chat.lua). The queue keeps a per-mode count of who is searching.
The decisions a process asks for while one is on its way go to Redis together, in one round
trip (`Batches`): a burst of finds costs a few round trips instead of one each. A socket's
find asks `pair` (`chat/lua/pair.lua`): its frame rate, the decision and the live conversation
opened for both, all in one step.
"""
from __future__ import annotations

import asyncio
import json
import time
import unicodedata
import weakref
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.conf import settings
from redis.exceptions import NoScriptError

from chat.lua import LuaRedis
from chat.store import get_store
from chatsite.plumbing.resp import LeanRedis
from chatsite.plumbing.runtime import runtime

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

    def to_json(self) -> str:
        data = dict(self.__dict__)
        # A string the Lua script searches without decoding a list per candidate.
        data["excluded"] = "," + "".join(f"{uid}," for uid in self.excluded)
        return json.dumps(data, separators=(",", ":"))

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
    # `pair`'s: the live conversation opened for both (its JSON value), or which of the two
    # was in a live conversation already (then nothing was opened).
    conversation: dict[str, Any] | None = None
    seeker_taken: bool = False
    partner_taken: bool = False

    @property
    def tandem(self) -> bool:
        # Both practise and the pair was allowed: each speaks what the other practises.
        return bool(self.seeker.practice and self.waiting.practice)


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


class RedisMatcher:
    """The queue in Redis (shared by every server process), or, with no URL, in this process:
    the same scripts either way."""

    def __init__(self, url: str, prefix: str = "match", interest_wait_s: float | None = None,
                 lease_s: float | None = None, scan: int | None = None,
                 lua: LuaRedis | None = None):
        # `lua`: the live store's Redis, so that `pair` opens the conversation where the
        # store reads it (the embedded default is one Redis per LuaRedis).
        self.lua = lua if lua is not None else LuaRedis(url)
        self.prefix = prefix
        self.interest_wait_ms = int(1000 * (interest_wait_s if interest_wait_s is not None
                                            else settings.MATCH_INTEREST_WAIT_SECONDS))
        self.lease_ms = int(1000 * (lease_s if lease_s is not None
                                    else settings.MATCH_LEASE_SECONDS))
        self.scan = scan if scan is not None else settings.MATCH_SCAN_WINDOW
        self.entries_key = f"{prefix}:entries"
        self.leases_key = f"{prefix}:leases"

        # One per event loop, as the client is (tests make a loop per test).
        self._batches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Batches] = (
            weakref.WeakKeyDictionary())

    def _redis(self):  # noqa: ANN202 - redis.asyncio.Redis
        return self.lua.client()

    async def _run(self, name: str, *args: object) -> Any:
        loop = asyncio.get_running_loop()
        batches = self._batches.get(loop)
        if batches is None:
            batches = self._batches[loop] = Batches()
        return await batches.run(self.lua.lean_script(name), [self.entries_key, self.leases_key],
                                 [self.prefix, *args])

    def queue_key(self, mode: str) -> str:
        return f"{self.prefix}:queue:{mode}"

    def _decision_args(self, seeker: Seeker, renew: bool) -> list[object]:
        return [seeker.to_json(), self.interest_wait_ms, self.lease_ms, self.scan,
                "1" if renew else "0", TANDEM_SCORE]

    async def find_partner(self, seeker: Seeker, renew: bool = False) -> Pairing | str | None:
        raw = await self._run("find_partner", *self._decision_args(seeker, renew))
        return raw if raw is None or raw == NOT_QUEUED else _pairing(seeker, json.loads(raw))

    async def pair(self, seeker: Seeker, opening: list[object], renew: bool = False,
                   rate: list[object] | None = None) -> Pairing | float | str | None:
        """`find_partner`, and the live conversation opened for both in the same step
        (`chat/lua/pair.lua`): `opening` is the store's `opening_args` of the new
        conversation; `rate` its `rate_args` of a limit checked first, whose refusal answers
        the seconds to wait (nothing else done)."""
        raw = await self._run("pair", *self._decision_args(seeker, renew), *opening,
                              *(rate or ("", 0, 0)))
        if raw is None or raw == NOT_QUEUED:
            return raw
        decided = json.loads(raw)
        if "wait" in decided:
            return decided["wait"] / 1000
        pairing = _pairing(seeker, decided)
        pairing.conversation = decided.get("conversation")
        pairing.seeker_taken = bool(decided.get("seeker_taken"))
        pairing.partner_taken = bool(decided.get("partner_taken"))
        return pairing

    async def cancel(self, user_id: int, channel: str | None = None) -> bool:
        return bool(await self._run("cancel", user_id, channel or ""))

    async def waiting_count(self, mode: str, except_user: int | None = None) -> int:
        return int(await self._run("waiting_count", mode,
                                   "" if except_user is None else except_user))


class Batches:
    """Script calls of one event loop: one runs at once; those that come meanwhile wait and
    then go in one pipeline (each script still runs alone and whole in Redis, in the order
    asked). A lone call pays nothing for it."""

    def __init__(self) -> None:
        self.busy = False
        self.waiting: list[tuple[Any, list[Any], list[Any], asyncio.Future[Any]]] = []

    async def run(self, script: Any, keys: list[Any], args: list[Any]) -> Any:
        if self.busy:
            done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            self.waiting.append((script, keys, args, done))
            return await done
        self.busy = True
        try:
            return await script(keys=keys, args=args)
        finally:
            if self.waiting:
                asyncio.get_running_loop().create_task(self.send())  # still busy until then
            else:
                self.busy = False

    async def send(self) -> None:
        try:
            while self.waiting:
                calls, self.waiting = self.waiting, []
                try:
                    results = await _in_one_write(calls)
                except Exception as error:
                    results = [error] * len(calls)
                for (script, keys, args, done), result in zip(calls, results, strict=True):
                    if isinstance(result, NoScriptError):  # not loaded yet, or Redis restarted
                        try:
                            result = await script(keys=keys, args=args)
                        except Exception as error:
                            result = error
                    if done.done():
                        continue  # its caller went away (the socket closed)
                    if isinstance(result, Exception):
                        done.set_exception(result)
                    else:
                        done.set_result(result)
        finally:
            self.busy = False


async def _in_one_write(calls: list[tuple[Any, list[Any], list[Any], asyncio.Future[Any]]]
                        ) -> list[Any]:
    """The calls' answers (or errors), sent as one pipeline on the lean connection; without a
    Redis URL the scripts run in this process, one after the other, with no write to save."""
    client = getattr(calls[0][0], "client", None)
    if isinstance(client, LeanRedis):
        return await client.execute_many(
            [("EVALSHA", script.sha, len(keys), *keys, *args) for script, keys, args, _ in calls],
            raise_on_error=False)
    results: list[Any] = []
    for script, keys, args, _ in calls:
        try:
            results.append(await script(keys=keys, args=args))
        except Exception as error:  # noqa: BLE001 - each caller gets its own error
            results.append(error)
    return results


def _pairing(seeker: Seeker, decided: dict[str, Any]) -> Pairing:
    seeker.since_ms = decided["since"]
    # In the seeker's order (decide.lua); cjson writes an empty list as an empty object.
    common = decided["common"] if isinstance(decided["common"], list) else []
    return Pairing(seeker=seeker, waiting=Seeker.from_dict(decided["partner"]),
                   common_interests=common)


def get_matcher() -> RedisMatcher:
    """The process's matcher, held by its runtime, on the live store's Redis (`pair` opens
    the conversation there)."""
    return runtime().part("matcher", lambda: RedisMatcher(settings.REDIS_URL,
                                                          lua=get_store().lua))


def reset_matcher() -> None:
    """Forget the backend, for tests that change settings."""
    runtime().forget("matcher")
