"""The matching rules of PROTOCOL.md section 3, run against both backends.

Every case runs once on the embedded default (the same Lua scripts in this process, no Redis
URL) and once on the real Redis, calling `find_partner` and `cancel` directly.
"""
from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Callable

import pytest

from chat.matching import (
    NOT_QUEUED,
    Pairing,
    RedisMatcher,
    Seeker,
    normalise_interests,
    now_ms,
)

MatcherFactory = Callable[..., RedisMatcher]

_user_ids = itertools.count(1000)


@pytest.fixture(params=["memory", "redis"])
def make_matcher(request: pytest.FixtureRequest) -> MatcherFactory:
    """Builds a matcher of the parametrised backend; Redis ones share a fresh key prefix."""
    if request.param == "memory":
        return lambda **options: RedisMatcher("", **options)
    redis_url = request.getfixturevalue("redis_url")
    prefix = f"test-match-{uuid.uuid4().hex[:8]}"
    return lambda **options: RedisMatcher(redis_url, prefix=prefix, **options)


def seeker(user_id: int | None = None, mode: str = "text", lang: str | None = None,
           interests: list[str] | None = None, excluded: list[int] | None = None,
           channel: str | None = None) -> Seeker:
    user_id = user_id if user_id is not None else next(_user_ids)
    return Seeker(user_id=user_id, channel=channel or f"socket-{user_id}-{uuid.uuid4().hex[:6]}",
                  mode=mode, lang=lang, interests=interests or [], excluded=excluded or [],
                  handle=f"User{user_id}")


def partner_of(result: Pairing | str | None) -> int:
    assert isinstance(result, Pairing), f"expected a pairing, got {result!r}"
    return result.waiting.user_id


async def test_users_without_interests_pair_at_once(make_matcher: MatcherFactory) -> None:
    matcher = make_matcher()
    a, b = seeker(), seeker()
    assert await matcher.find_partner(a) is None
    result = await matcher.find_partner(b)
    assert partner_of(result) == a.user_id
    assert result.seeker.user_id == b.user_id
    assert result.common_interests == []
    assert await matcher.waiting_count("text") == 0


async def test_the_paired_entry_carries_what_the_partner_is_told(
        make_matcher: MatcherFactory) -> None:
    matcher = make_matcher()
    a = seeker(lang="en", interests=["chess"])
    a.keeps_history = True
    await matcher.find_partner(a)
    result = await matcher.find_partner(seeker(interests=["chess"]))
    assert isinstance(result, Pairing)
    assert (result.waiting.handle, result.waiting.channel, result.waiting.keeps_history) == (
        a.handle, a.channel, True)


async def test_only_the_same_mode_pairs(make_matcher: MatcherFactory) -> None:
    matcher = make_matcher()
    text, voice = seeker(mode="text"), seeker(mode="voice")
    assert await matcher.find_partner(text) is None
    assert await matcher.find_partner(voice) is None
    assert await matcher.waiting_count("text") == 1
    assert await matcher.waiting_count("voice") == 1
    assert partner_of(await matcher.find_partner(seeker(mode="voice"))) == voice.user_id
    assert partner_of(await matcher.find_partner(seeker(mode="text"))) == text.user_id


async def test_two_given_languages_must_be_the_same(make_matcher: MatcherFactory) -> None:
    matcher = make_matcher()
    english = seeker(lang="en")
    assert await matcher.find_partner(english) is None
    assert await matcher.find_partner(seeker(lang="de")) is None
    assert partner_of(await matcher.find_partner(seeker(lang="en"))) == english.user_id


async def test_a_user_without_language_meets_anyone(make_matcher: MatcherFactory) -> None:
    matcher = make_matcher()
    german = seeker(lang="de")
    await matcher.find_partner(german)
    assert partner_of(await matcher.find_partner(seeker(lang=None))) == german.user_id
    unspecified = seeker(lang=None)
    await matcher.find_partner(unspecified)
    assert partner_of(await matcher.find_partner(seeker(lang="fr"))) == unspecified.user_id


async def test_more_shared_interests_win_over_fewer_and_over_earlier_arrivals(
        make_matcher: MatcherFactory) -> None:
    matcher = make_matcher(interest_wait_s=0)
    nothing_shared = seeker(interests=["golf"])
    one_shared = seeker(interests=["chess", "golf"])
    two_shared = seeker(interests=["jazz", "chess"])
    waiting_users = (nothing_shared, one_shared, two_shared)
    for waiting in waiting_users:
        # Kept apart from each other, so that all three wait; after the (zero) wait each
        # of them is open to anyone.
        waiting.excluded = [other.user_id for other in waiting_users if other is not waiting]
        assert await matcher.find_partner(waiting) is None
    result = await matcher.find_partner(seeker(interests=["chess", "jazz", "poetry"]))
    assert partner_of(result) == two_shared.user_id
    assert result.common_interests == ["chess", "jazz"]  # in the seeker's order
    result = await matcher.find_partner(seeker(interests=["chess"]))
    assert partner_of(result) == one_shared.user_id
    assert result.common_interests == ["chess"]


async def test_among_equal_candidates_the_one_waiting_longest_wins(
        make_matcher: MatcherFactory) -> None:
    matcher = make_matcher()
    first, second = seeker(interests=["chess"]), seeker(interests=["chess"])
    first.excluded, second.excluded = [second.user_id], [first.user_id]
    await matcher.find_partner(first)
    await asyncio.sleep(0.01)
    await matcher.find_partner(second)
    assert partner_of(await matcher.find_partner(seeker(interests=["chess"]))) == first.user_id


async def test_no_pairing_without_common_interests_before_the_wait(
        make_matcher: MatcherFactory) -> None:
    matcher = make_matcher(interest_wait_s=0.3)
    chess = seeker(interests=["chess"])
    assert await matcher.find_partner(chess) is None
    jazz = seeker(interests=["jazz"])
    assert await matcher.find_partner(jazz) is None
    anyone = seeker()
    assert await matcher.find_partner(anyone) is None
    assert await matcher.waiting_count("text") == 3


async def test_after_the_wait_a_user_with_interests_pairs_with_anyone(
        make_matcher: MatcherFactory) -> None:
    matcher = make_matcher(interest_wait_s=0.3)
    chess = seeker(interests=["chess"])
    assert await matcher.find_partner(chess) is None
    no_interests = seeker()
    assert await matcher.find_partner(no_interests) is None
    await asyncio.sleep(0.45)
    # The waiting user's own retry (the consumer renews every few seconds) makes the pair.
    result = await matcher.find_partner(chess, renew=True)
    assert partner_of(result) == no_interests.user_id
    assert result.common_interests == []
    assert await matcher.waiting_count("text") == 0


async def test_two_users_with_different_interests_pair_after_the_wait(
        make_matcher: MatcherFactory) -> None:
    matcher = make_matcher(interest_wait_s=0.3)
    chess, jazz = seeker(interests=["chess"]), seeker(interests=["jazz"])
    await matcher.find_partner(chess)
    assert await matcher.find_partner(jazz) is None
    await asyncio.sleep(0.45)
    assert partner_of(await matcher.find_partner(jazz, renew=True)) == chess.user_id


async def test_a_newcomer_with_other_interests_waits_for_its_own_fallback(
        make_matcher: MatcherFactory) -> None:
    matcher = make_matcher(interest_wait_s=0.3)
    chess = seeker(interests=["chess"])
    await matcher.find_partner(chess)
    await asyncio.sleep(0.45)
    # `chess` has waited long enough, but the newcomer with interests has not.
    jazz = seeker(interests=["jazz"])
    assert await matcher.find_partner(jazz) is None
    # A newcomer without interests is open to anyone at once.
    assert partner_of(await matcher.find_partner(seeker())) == chess.user_id


@pytest.mark.parametrize("direction", ["waiting blocked seeker", "seeker blocked waiting"])
async def test_blocked_users_are_never_paired(make_matcher: MatcherFactory,
                                              direction: str) -> None:
    matcher = make_matcher()
    waiting = seeker()
    late = seeker()
    if direction == "waiting blocked seeker":
        waiting.excluded = [late.user_id]
    else:
        late.excluded = [waiting.user_id]
    await matcher.find_partner(waiting)
    assert await matcher.find_partner(late) is None
    assert await matcher.waiting_count("text") == 2
    # Both are still available to everybody else.
    assert partner_of(await matcher.find_partner(seeker())) == waiting.user_id
    assert partner_of(await matcher.find_partner(seeker())) == late.user_id


async def test_the_partner_just_left_is_not_offered_again(make_matcher: MatcherFactory) -> None:
    matcher = make_matcher()
    a, b = seeker(), seeker()
    await matcher.find_partner(a)
    assert partner_of(await matcher.find_partner(b)) == a.user_id
    # Both look again; each keeps the other apart for a while (chat.conversations.last_partner).
    a_again, b_again = seeker(a.user_id), seeker(b.user_id)
    until = now_ms() + 60_000
    a_again.last_partner, a_again.last_partner_until_ms = b.user_id, until
    b_again.last_partner, b_again.last_partner_until_ms = a.user_id, until
    assert await matcher.find_partner(a_again) is None
    assert await matcher.find_partner(b_again) is None
    newcomer = seeker()
    assert partner_of(await matcher.find_partner(newcomer)) == a.user_id


async def test_a_user_never_meets_itself(make_matcher: MatcherFactory) -> None:
    matcher = make_matcher()
    first_socket = seeker(7)
    assert await matcher.find_partner(first_socket) is None
    # The same user looking again (say from a new socket) is still one entry, not a pair.
    assert await matcher.find_partner(seeker(7)) is None
    assert await matcher.waiting_count("text") == 1
    assert partner_of(await matcher.find_partner(seeker())) == 7
    assert await matcher.waiting_count("text") == 0


async def test_a_user_looking_in_another_mode_leaves_the_first_queue(
        make_matcher: MatcherFactory) -> None:
    matcher = make_matcher()
    await matcher.find_partner(seeker(8, mode="text"))
    await matcher.find_partner(seeker(8, mode="video"))
    assert await matcher.waiting_count("text") == 0
    assert await matcher.find_partner(seeker(mode="text")) is None
    assert partner_of(await matcher.find_partner(seeker(mode="video"))) == 8


async def test_a_user_switching_mode_queues_behind_those_already_waiting_there(
        make_matcher: MatcherFactory) -> None:
    matcher = make_matcher()
    switcher = seeker(mode="text")
    video = seeker(mode="video", excluded=[switcher.user_id])
    await matcher.find_partner(switcher)
    await asyncio.sleep(0.01)
    await matcher.find_partner(video)
    await asyncio.sleep(0.01)
    assert await matcher.find_partner(seeker(switcher.user_id, mode="video")) is None
    assert partner_of(await matcher.find_partner(seeker(mode="video"))) == video.user_id
    assert partner_of(await matcher.find_partner(seeker(mode="video"))) == switcher.user_id


async def test_cancel_takes_the_user_out_of_the_queue(make_matcher: MatcherFactory) -> None:
    matcher = make_matcher()
    a = seeker()
    await matcher.find_partner(a)
    assert await matcher.cancel(a.user_id, a.channel) is True
    assert await matcher.waiting_count("text") == 0
    assert await matcher.find_partner(seeker()) is None
    assert await matcher.cancel(a.user_id) is False


async def test_cancel_from_another_socket_leaves_the_search_alone(
        make_matcher: MatcherFactory) -> None:
    matcher = make_matcher()
    a = seeker(channel="newer-socket")
    await matcher.find_partner(a)
    assert await matcher.cancel(a.user_id, "older-socket") is False
    assert await matcher.waiting_count("text") == 1
    assert partner_of(await matcher.find_partner(seeker())) == a.user_id


async def test_cancel_without_channel_removes_any_entry(make_matcher: MatcherFactory) -> None:
    matcher = make_matcher()
    a = seeker()
    await matcher.find_partner(a)
    assert await matcher.cancel(a.user_id) is True
    assert await matcher.waiting_count("text") == 0


async def test_a_ghost_whose_lease_ran_out_is_never_handed_out(
        make_matcher: MatcherFactory) -> None:
    matcher = make_matcher(lease_s=0.2)
    ghost = seeker()
    await matcher.find_partner(ghost)
    await asyncio.sleep(0.35)
    assert await matcher.waiting_count("text") == 0
    newcomer = seeker()
    assert await matcher.find_partner(newcomer) is None
    # The ghost's socket coming back late to renew is not queued again by the renewal.
    assert await matcher.find_partner(ghost, renew=True) == NOT_QUEUED
    assert partner_of(await matcher.find_partner(seeker())) == newcomer.user_id


async def test_a_renewal_after_the_own_lease_ran_out_is_not_queued(
        make_matcher: MatcherFactory) -> None:
    matcher = make_matcher(lease_s=0.2)
    late = seeker()
    await matcher.find_partner(late)
    await asyncio.sleep(0.35)
    # Nobody looked in the meantime; the expired entry still counts as gone.
    assert await matcher.find_partner(late, renew=True) == NOT_QUEUED
    assert await matcher.find_partner(seeker()) is None


async def test_a_user_whose_lease_ran_out_is_queued_again_by_a_new_find(
        make_matcher: MatcherFactory) -> None:
    matcher = make_matcher(lease_s=0.2)
    returning = seeker()
    await matcher.find_partner(returning)
    await asyncio.sleep(0.35)
    assert await matcher.find_partner(seeker(returning.user_id)) is None
    assert await matcher.waiting_count("text") == 1
    assert partner_of(await matcher.find_partner(seeker())) == returning.user_id


async def test_renewing_keeps_a_waiting_user_alive(make_matcher: MatcherFactory) -> None:
    matcher = make_matcher(lease_s=0.3)
    patient = seeker()
    await matcher.find_partner(patient)
    for _ in range(4):
        await asyncio.sleep(0.15)
        assert await matcher.find_partner(patient, renew=True) is None
    assert partner_of(await matcher.find_partner(seeker())) == patient.user_id


async def test_a_renewal_after_being_paired_elsewhere_does_not_queue_again(
        make_matcher: MatcherFactory) -> None:
    matcher = make_matcher()
    taken = seeker()
    await matcher.find_partner(taken)
    assert partner_of(await matcher.find_partner(seeker())) == taken.user_id
    assert await matcher.find_partner(taken, renew=True) == NOT_QUEUED
    assert await matcher.waiting_count("text") == 0
    assert await matcher.find_partner(seeker()) is None


async def test_a_renewal_from_a_replaced_socket_is_not_queued(
        make_matcher: MatcherFactory) -> None:
    matcher = make_matcher()
    await matcher.find_partner(seeker(9, channel="new"))
    assert await matcher.find_partner(seeker(9, channel="old"), renew=True) == NOT_QUEUED
    assert await matcher.waiting_count("text") == 1


async def test_compatible_users_behind_a_long_queue_of_others_still_meet(
        redis_url: str) -> None:
    # Each decision looks at `scan` waiting users; here the first ones are all incompatible.
    # The first ones speak the same language but have blocked everyone else.
    matcher = RedisMatcher(redis_url, prefix=f"test-match-{uuid.uuid4().hex[:8]}", scan=3)
    # (Made first, so that their ids also sort first among arrivals in the same millisecond.)
    blockers = [seeker(lang="en") for _ in range(4)]
    first, second = seeker(lang="en"), seeker(lang="en")
    for blocker in blockers:
        blocker.excluded = [u.user_id for u in (*blockers, first, second) if u is not blocker]
        assert await matcher.find_partner(blocker) is None
    assert await matcher.find_partner(first) is None
    assert await matcher.find_partner(second) is None
    for _ in range(100):  # the consumer renews every few seconds
        await asyncio.sleep(0.003)
        result = await matcher.find_partner(first, renew=True)
        if result is not None:
            break
    assert partner_of(result) == second.user_id
    assert await matcher.waiting_count("text") == 4


async def test_a_partner_sharing_an_interest_is_found_at_once_behind_a_long_queue(
        redis_url: str) -> None:
    # Each decision looks at `scan` waiting users per list; the ones in front wait for their
    # own interests, so only the interest's own list can bring the pair together at once.
    matcher = RedisMatcher(redis_url, prefix=f"test-match-{uuid.uuid4().hex[:8]}", scan=3,
                           interest_wait_s=60)
    for n in range(6):
        assert await matcher.find_partner(seeker(lang="en", interests=[f"topic {n}"])) is None
    chess = seeker(lang="en", interests=["chess"])
    assert await matcher.find_partner(chess) is None
    result = await matcher.find_partner(seeker(lang="en", interests=["jazz", "chess"]))
    assert partner_of(result) == chess.user_id
    assert await matcher.waiting_count("text") == 6


async def test_a_new_search_with_other_interests_is_found_by_those_only(
        make_matcher: MatcherFactory) -> None:
    matcher = make_matcher(interest_wait_s=60)
    changing = seeker(interests=["chess"])
    await matcher.find_partner(changing)
    changing = seeker(changing.user_id, interests=["jazz"])
    assert await matcher.find_partner(changing) is None
    assert await matcher.find_partner(seeker(interests=["chess"])) is None
    assert partner_of(await matcher.find_partner(seeker(interests=["jazz"]))) == changing.user_id


async def test_two_matchers_on_one_redis_share_the_queue(redis_url: str) -> None:
    prefix = f"test-match-{uuid.uuid4().hex[:8]}"
    one, two = RedisMatcher(redis_url, prefix=prefix), RedisMatcher(redis_url, prefix=prefix)
    a = seeker()
    await one.find_partner(a)
    assert partner_of(await two.find_partner(seeker())) == a.user_id
    assert await one.waiting_count("text") == 0


@pytest.mark.parametrize("raw, expected", [
    (["Chess", " CHESS ", "chess"], ["chess"]),
    (["Rock  and\troll", "rock and roll"], ["rock and roll"]),
    (["ｃｈｅｓｓ"], ["chess"]),  # full-width letters (NFKC)
    (["Straße", "STRASSE"], ["strasse"]),  # case folding, not just lower()
    (["Jazz", "chess", "JAZZ"], ["jazz", "chess"]),  # first spelling's position kept
    (["  ", ""], []),
])
def test_interests_are_normalised(raw: list[str], expected: list[str]) -> None:
    assert normalise_interests(raw) == expected


async def test_differently_written_interests_are_shared(make_matcher: MatcherFactory) -> None:
    matcher = make_matcher(interest_wait_s=60)
    a = seeker(interests=normalise_interests(["Board Games"]))
    await matcher.find_partner(a)
    result = await matcher.find_partner(seeker(interests=normalise_interests(["board  GAMES"])))
    assert partner_of(result) == a.user_id
    assert result.common_interests == ["board games"]


async def test_non_ascii_interests_are_shared(make_matcher: MatcherFactory) -> None:
    matcher = make_matcher(interest_wait_s=60)
    a = seeker(interests=["échecs", "音楽"])
    await matcher.find_partner(a)
    result = await matcher.find_partner(seeker(interests=["音楽"]))
    assert partner_of(result) == a.user_id
    assert result.common_interests == ["音楽"]


# ---- exclusions from the database


@pytest.mark.django_db
def test_exclusions_hold_blocks_either_way_and_the_last_partner_for_a_while(settings) -> None:  # noqa: ANN001
    from accounts.models import User
    from chat.conversations import (
        block_user,
        end_conversation,
        exclusions_for,
        last_partner,
        start_conversation,
    )
    from chat.models import Conversation

    settings.LAST_PARTNER_SECONDS = 60
    me, blocked_by_me, blocking_me, old, last, stranger = (
        User.objects.create(username=f"ExclUser{i}") for i in range(6))
    block_user(me.id, blocked_by_me.id, None)
    block_user(blocking_me.id, me.id, None)
    first = str(uuid.uuid4())
    start_conversation(first, "text", old.id, me.id, [])
    end_conversation(first, "left", me.id)
    latest = str(uuid.uuid4())
    start_conversation(latest, "text", me.id, last.id, [])
    end_conversation(latest, "left", last.id)

    assert set(exclusions_for(me.id)) == {blocked_by_me.id, blocking_me.id}
    # Blocks hold both ways.
    assert me.id in exclusions_for(blocked_by_me.id)
    assert me.id in exclusions_for(blocking_me.id)
    assert exclusions_for(stranger.id) == []
    # The last partner, mutually, for LAST_PARTNER_SECONDS after the end.
    ended = Conversation.objects.get(id=latest).ended_at
    until = int(ended.timestamp() * 1000) + 60_000
    assert last_partner(me.id) == (last.id, until)
    assert last_partner(last.id) == (me.id, until)
    assert last_partner(stranger.id) is None
    settings.LAST_PARTNER_SECONDS = 0
    assert last_partner(me.id) is None


async def test_the_partner_just_left_is_offered_again_after_the_last_partner_time(
        make_matcher: MatcherFactory) -> None:
    matcher = make_matcher()
    a, b = seeker(), seeker()
    until = now_ms() + 400
    a.last_partner, a.last_partner_until_ms = b.user_id, until
    b.last_partner, b.last_partner_until_ms = a.user_id, until
    assert await matcher.find_partner(a) is None
    assert await matcher.find_partner(b) is None
    await asyncio.sleep(0.5)
    # The waiting one's own renewal pairs them once the time is over.
    assert partner_of(await matcher.find_partner(b, renew=True)) == a.user_id


async def test_the_last_partner_rule_holds_from_one_side_alone(
        make_matcher: MatcherFactory) -> None:
    matcher = make_matcher()
    a, b = seeker(), seeker()
    b.last_partner, b.last_partner_until_ms = a.user_id, now_ms() + 60_000
    await matcher.find_partner(a)
    assert await matcher.find_partner(b) is None
    assert partner_of(await matcher.find_partner(seeker())) == a.user_id


async def test_the_count_of_who_is_searching_per_mode(make_matcher: MatcherFactory) -> None:
    matcher = make_matcher(lease_s=0.3)
    germans = [seeker(lang="de") for _ in range(3)]
    for german in germans:
        german.excluded = [g.user_id for g in germans if g is not german]
        await matcher.find_partner(german)
    await matcher.find_partner(seeker(mode="video"))
    assert await matcher.waiting_count("text") == 3
    assert await matcher.waiting_count("text", except_user=germans[0].user_id) == 2
    assert await matcher.waiting_count("video", except_user=germans[0].user_id) == 1
    assert await matcher.waiting_count("voice") == 0
    assert partner_of(await matcher.find_partner(seeker(lang="de"))) == germans[0].user_id
    assert await matcher.waiting_count("text") == 2
    await matcher.cancel(germans[1].user_id)
    assert await matcher.waiting_count("text") == 1
    # A socket that stops renewing stops counting once its lease is over.
    await asyncio.sleep(0.4)
    assert await matcher.waiting_count("text") == 0
    assert await matcher.waiting_count("video") == 0


@pytest.mark.django_db
def test_blocking_twice_keeps_one_block() -> None:
    from accounts.models import User
    from chat.conversations import block_user
    from chat.models import Block

    a, b = User.objects.create(username="TwiceA"), User.objects.create(username="TwiceB")
    first = block_user(a.id, b.id, None)
    assert block_user(a.id, b.id, None).pk == first.pk
    assert Block.objects.count() == 1
