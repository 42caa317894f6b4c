"""Language exchange (PROTOCOL.md section 3, version 2) on both matching backends.

The same cases drive the embedded default (the same Lua scripts in this process) and the real
Redis, first straight through `find_partner`, then through the live socket (with both
backends), and once end to end through two daphne processes sharing Redis, resume included.
The page's part is in test_language_exchange_browser.py: a module-scoped browser keeps
Playwright's loop running in this thread, which the async tests here cannot share.
"""
from __future__ import annotations

import asyncio
from typing import Any

import pytest
from chatsockets import close_all, connect, find
from test_matching import MatcherFactory, make_matcher, partner_of, seeker
from test_matching_socket import backend

from chat.matching import Pairing

# The parametrised fixtures, shared with test_matching and test_matching_socket.
__all__ = ["backend", "make_matcher"]


# ---- the rule, straight against both backends


async def test_a_learner_meets_only_speakers_of_the_practised_language(
        make_matcher: MatcherFactory) -> None:
    matcher = make_matcher()
    learner = seeker(lang="en")
    learner.practice = "es"
    assert await matcher.find_partner(learner) is None
    # Another English speaker, and someone who gave no language, are not for the learner.
    english, unspecified = seeker(lang="en"), seeker(lang=None)
    english.excluded = [unspecified.user_id]  # kept apart from each other
    assert await matcher.find_partner(english) is None
    assert await matcher.find_partner(unspecified) is None
    result = await matcher.find_partner(seeker(lang="es"))
    assert partner_of(result) == learner.user_id
    assert result.tandem is False


async def test_a_tandem_partner_comes_before_an_earlier_speaker(
        make_matcher: MatcherFactory) -> None:
    matcher = make_matcher()
    speaker = seeker(lang="es")  # speaks Spanish, practises nothing: waits longest
    tandem = seeker(lang="es")
    tandem.practice = "en"
    # Kept apart, so both wait.
    speaker.excluded, tandem.excluded = [tandem.user_id], [speaker.user_id]
    assert await matcher.find_partner(speaker) is None
    await asyncio.sleep(0.01)
    assert await matcher.find_partner(tandem) is None
    learner = seeker(lang="en")
    learner.practice = "es"
    result = await matcher.find_partner(learner)
    assert partner_of(result) == tandem.user_id
    assert result.tandem is True
    # The next learner gets the plain speaker.
    second = seeker(lang="en")
    second.practice = "es"
    result = await matcher.find_partner(second)
    assert partner_of(result) == speaker.user_id
    assert result.tandem is False


async def test_a_tandem_outranks_shared_interests(make_matcher: MatcherFactory) -> None:
    matcher = make_matcher(interest_wait_s=0)
    fellow = seeker(lang="es", interests=["chess"])
    tandem = seeker(lang="es")
    tandem.practice = "en"
    fellow.excluded, tandem.excluded = [tandem.user_id], [fellow.user_id]
    await matcher.find_partner(fellow)
    await matcher.find_partner(tandem)
    learner = seeker(lang="en", interests=["chess"])
    learner.practice = "es"
    assert partner_of(await matcher.find_partner(learner)) == tandem.user_id


async def test_no_fallback_to_other_languages_ever(make_matcher: MatcherFactory) -> None:
    matcher = make_matcher(interest_wait_s=0)
    learner = seeker(lang="en")
    learner.practice = "es"
    await matcher.find_partner(learner)
    others = [seeker(lang="en"), seeker(lang="de"), seeker(lang=None)]
    for other in others:
        other.excluded = [o.user_id for o in others if o is not other]
        assert await matcher.find_partner(other) is None
    await asyncio.sleep(0.05)  # past the (zero) interest wait: no other rule relaxes
    assert await matcher.find_partner(learner, renew=True) is None
    assert await matcher.waiting_count("text") == 4


async def test_the_other_sides_practice_must_hold_too(make_matcher: MatcherFactory) -> None:
    matcher = make_matcher()
    german_learner = seeker(lang="es")
    german_learner.practice = "de"  # speaks Spanish, wants a German speaker
    await matcher.find_partner(german_learner)
    learner = seeker(lang="en")
    learner.practice = "es"  # would accept the Spanish speaker, who does not accept English
    assert await matcher.find_partner(learner) is None
    assert partner_of(await matcher.find_partner(seeker(lang="de"))) == german_learner.user_id


async def test_a_speaker_without_practice_helps_a_learner(make_matcher: MatcherFactory) -> None:
    matcher = make_matcher()
    learner = seeker(lang="en")
    learner.practice = "es"
    await matcher.find_partner(learner)
    # For this pair the practised language replaces "the same lang where both gave one".
    result = await matcher.find_partner(seeker(lang="es"))
    assert isinstance(result, Pairing) and result.waiting.practice == "es"
    assert result.seeker.practice is None


# ---- through the live socket, on both backends


@pytest.mark.django_db(transaction=True)
async def test_matched_says_who_practises_and_whether_it_is_a_tandem(backend: str) -> None:
    a, b, c, d = [await connect() for _ in range(4)]
    await find(a, lang="en", practice="ES")
    await find(b, lang="es", practice="en")
    matched_b, matched_a = await b.expect("matched"), await a.expect("matched")
    assert (matched_a["practice"], matched_a["tandem"]) == ("es", True)
    assert (matched_b["practice"], matched_b["tandem"]) == ("en", True)
    # A plain speaker: the learner's side says what it practises, the speaker's says null.
    await find(c, lang="en", practice="es")
    await find(d, lang="es")
    matched_d, matched_c = await d.expect("matched"), await c.expect("matched")
    assert (matched_c["practice"], matched_c["tandem"]) == ("es", False)
    assert (matched_d["practice"], matched_d["tandem"]) == (None, False)
    await close_all(a, b, c, d)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("frame, detail", [
    ({"practice": "es"}, "practice needs lang"),
    ({"lang": "  ", "practice": "es"}, "practice needs lang"),
    ({"lang": "en", "practice": 7}, "practice must be a string"),
    ({"lang": "en", "practice": "x" * 17}, "practice is longer than 16"),
])
async def test_a_bad_practice_is_refused_and_changes_nothing(
        frame: dict[str, Any], detail: str) -> None:
    learner, speaker = await connect(), await connect()
    await learner.send({"type": "find", "mode": "text", **frame})
    error = await learner.error()
    assert error["code"] == "bad_frame" and detail in error["detail"]
    # Not queued: a newcomer does not meet the refused user.
    await find(speaker, lang="es")
    assert await speaker.silent() and await learner.silent()
    await close_all(learner, speaker)


@pytest.mark.django_db(transaction=True)
async def test_practising_the_language_one_speaks_is_speaking_it() -> None:
    a, b = await connect(), await connect()
    await find(a, lang="es", practice="es")
    await find(b, lang="es")
    await b.expect("matched")
    matched_a = await a.expect("matched")
    assert (matched_a["practice"], matched_a["tandem"]) == (None, False)
    await close_all(a, b)


# ---- two daphne processes sharing Redis, resume included


@pytest.mark.e2e
def test_a_tandem_across_two_processes_survives_a_resume(start_server: Any,
                                                          redis_url: str) -> None:
    from chatclient import Socket, guest_session

    from conftest import resume_on

    one, two = start_server(redis_url=redis_url), start_server(redis_url=redis_url)
    session_a, session_b, session_c = (guest_session(s.url) for s in (one, two, two))
    a, b, c = Socket(one.url, session_a), Socket(two.url, session_b), Socket(two.url, session_c)
    for s in (a, b, c):
        s.expect("welcome")
    c.send({"type": "find", "mode": "text", "lang": "es"})  # a plain speaker, waiting first
    c.expect("searching")
    a.send({"type": "find", "mode": "text", "lang": "en", "practice": "es"})
    matched_a = a.expect("matched", 20)
    assert matched_a["partner"]["handle"] != ""
    # The speaker was the only one there: no waiting for a tandem that may never come.
    assert (matched_a["practice"], matched_a["tandem"]) == ("es", False)
    assert c.expect("matched", 20)["conversation"] == matched_a["conversation"]
    a.send({"type": "leave"})
    a.expect("ended")

    b.send({"type": "find", "mode": "text", "lang": "es", "practice": "en"})
    b.expect("searching")
    a.send({"type": "find", "mode": "text", "lang": "en", "practice": "es"})
    matched_a = a.expect("matched", 20)
    matched_b = b.expect("matched", 20)
    assert matched_a["conversation"] == matched_b["conversation"]
    assert (matched_a["practice"], matched_a["tandem"]) == ("es", True)
    assert (matched_b["practice"], matched_b["tandem"]) == ("en", True)

    a.sock.close()  # the network drops
    b.expect("partner_reconnecting", 20)
    _, resumed = resume_on(two.url, session_a, matched_a["conversation"], None)
    assert (resumed["practice"], resumed["tandem"]) == ("es", True)
    b.expect("partner_back")
