"""The live conversation log: one sequence for both sides, encrypted in Redis, bounded.

The log cases run on the real Redis and on the embedded default (the same scripts in this
process, no Redis URL)."""
import pytest

from chat.store import RedisStore, get_store
from tests.chatsockets import close_all, pair


@pytest.fixture(params=["embedded", "redis"])
def store(request: pytest.FixtureRequest) -> RedisStore:
    url = "" if request.param == "embedded" else request.getfixturevalue("redis_url")
    return RedisStore(url, prefix="t")


async def test_lines_get_consecutive_numbers_and_replay_after_any_of_them(store):
    seqs = [await store.append_line("c1", {"sender": 1, "text": f"line {n}"}) for n in range(4)]
    assert seqs == [1, 2, 3, 4]
    assert [line["text"] for line in await store.lines_after("c1", 2)] == ["line 2", "line 3"]


async def test_redis_holds_no_plain_text_of_a_line(store):
    await store.append_line("c2", {"sender": 1, "text": "my secret phone is 555"})
    raw = await store._redis().lrange("t:log:c2", 0, -1)
    assert raw and all("secret" not in value for value in raw)
    assert (await store.lines_after("c2", 0))[0]["text"] == "my secret phone is 555"


async def test_log_keeps_only_the_last_lines(store, settings):
    settings.CONVERSATION_LOG_LINES = 3
    for n in range(5):
        await store.append_line("c3", {"sender": 1, "text": str(n)})
    assert [line["seq"] for line in await store.lines_after("c3", 0)] == [3, 4, 5]


@pytest.mark.django_db(transaction=True)
async def test_a_line_whose_event_was_lost_still_arrives_from_the_log(settings):
    settings.ANALYSIS_ENABLED = False
    a, b, matched, _ = await pair()
    # As if b's process had logged the line but its event to a never arrived.
    await get_store().append_line(matched["conversation"], {
        "sender": b.user.id, "text": "lost in transit", "ts": "2026-11-25T12:00:00.000Z",
        "filtered": False, "client_id": None})
    frame = await a.expect("message", timeout=5)
    assert (frame["text"], frame["from"]) == ("lost in transit", "partner")
    assert frame["id"] == f"{matched['conversation']}.1"
    await close_all(a, b)
