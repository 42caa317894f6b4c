"""Relayed lines are queued without touching the relay, scored in batches by the offline
classifier, and abusive senders land in the moderators' queue once."""
import asyncio
import json
import time

import pytest
import redis

from accounts.models import User
from chat.models import Conversation
from moderation import analysis
from moderation.analysis import (
    PENDING_KEY,
    PendingLine,
    flush_relayed,
    line_relayed,
    record_scores,
)
from moderation.models import ConversationScore, LineScore, Report
from moderation.tasks import analyse_pending

ABUSIVE = ["you are a fucking idiot", "shut up you stupid bitch",
           "go kill yourself you piece of shit", "fuck off asshole"]
CLEAN = ["hi, how are you?", "I like hiking and old films", "where are you from?",
         "see you at 5", "that classic cocktail bar in Essex"]


@pytest.fixture
def pair(postgres: None, db: None) -> tuple[User, User, Conversation]:
    rude = User.objects.create(username="rude")
    kind = User.objects.create(username="kind")
    return rude, kind, Conversation.objects.create(user_a=rude, user_b=kind)


@pytest.fixture
def queue_in_redis(redis_live: str, settings) -> redis.Redis:  # noqa: ANN001
    settings.ANALYSIS_TRIGGER_MS = 0  # the tests run the task themselves
    client = redis.Redis.from_url(redis_live, decode_responses=True)
    yield client
    client.close()


def lines_of(user: User, conversation: Conversation, texts: list[str],
             first_seq: int = 1) -> list[PendingLine]:
    return [PendingLine(str(conversation.id), seq, user.id, text)
            for seq, text in enumerate(texts, start=first_seq)]


def relay(user: User, conversation: Conversation, texts: list[str], first_seq: int = 1) -> None:
    async def send() -> None:
        for line in lines_of(user, conversation, texts, first_seq):
            await line_relayed(line.conversation, line.seq, line.sender, line.text)
        await flush_relayed()

    asyncio.run(send())


def test_classifier_tells_abuse_from_ordinary_talk() -> None:
    abusive = analysis.classifier_scores(ABUSIVE)
    clean = analysis.classifier_scores(CLEAN)
    assert min(abusive) > 0.8
    assert max(clean) < 0.5


def test_classifier_reads_disguised_words() -> None:
    plain, disguised = analysis.classifier_scores(["fuck you", "f.u.c.k y0u"])
    assert disguised > 0.5
    assert disguised == pytest.approx(plain)


def test_abusive_lines_file_one_automatic_report(pair) -> None:  # noqa: ANN001
    rude, kind, conversation = pair
    reports = record_scores(lines_of(rude, conversation, ABUSIVE))
    assert len(reports) == 1
    report = Report.objects.get()
    assert report.reporter is None
    assert report.reported == rude
    assert report.conversation == conversation
    assert report.status == Report.Status.OPEN
    assert report.classifier_score > 0.8
    assert report.note.startswith("Automatic")
    record_scores(lines_of(rude, conversation, ABUSIVE, first_seq=10))
    assert Report.objects.count() == 1
    tally = ConversationScore.objects.get(user=rude)
    assert tally.flagged_lines == 2 * len(ABUSIVE)
    assert tally.report == report


def log_live_lines(conversation: Conversation, lines: list[tuple[User, str]]) -> None:
    """Lines in the live conversation's log, as the socket appends them when relaying."""
    from chat.store import get_store

    async def append() -> None:
        for user, text in lines:
            await get_store().append_line(str(conversation.id), {
                "sender": user.id, "text": text, "ts": "2026-11-25T12:00:00Z",
                "filtered": False, "client_id": None})

    asyncio.run(append())


@pytest.mark.parametrize("store", ["memory", "redis"])
def test_automatic_report_carries_the_live_lines_as_evidence(
        pair, store: str, request) -> None:  # noqa: ANN001
    if store == "redis":
        request.getfixturevalue("queue_in_redis")
    rude, kind, conversation = pair
    log_live_lines(conversation, [(kind, "hi"), (rude, "<b>" + ABUSIVE[0] + "</b>")])
    record_scores(lines_of(rude, conversation, ABUSIVE))
    assert Report.objects.get().evidence == [
        {"from": "kind", "text": "hi", "ts": "2026-11-25T12:00:00Z"},
        {"from": "rude", "text": "<b>" + ABUSIVE[0] + "</b>", "ts": "2026-11-25T12:00:00Z"},
    ]


def test_clean_lines_file_nothing_and_store_nothing(pair) -> None:  # noqa: ANN001
    rude, kind, conversation = pair
    assert record_scores(lines_of(kind, conversation, CLEAN * 5)) == []
    assert not Report.objects.exists()
    assert not LineScore.objects.exists()


def test_below_the_threshold_no_report(pair, settings) -> None:  # noqa: ANN001
    settings.ANALYSIS_REPORT_THRESHOLD = 10.0
    rude, kind, conversation = pair
    record_scores(lines_of(rude, conversation, ABUSIVE))
    assert not Report.objects.exists()
    assert ConversationScore.objects.get(user=rude).total > 3


def test_scores_count_per_sender_and_conversation(pair) -> None:  # noqa: ANN001
    rude, kind, conversation = pair
    other = Conversation.objects.create(user_a=rude, user_b=kind)
    record_scores(lines_of(rude, conversation, ABUSIVE[:2])
                  + lines_of(rude, other, ABUSIVE[2:], first_seq=1)
                  + lines_of(kind, conversation, ABUSIVE[:1], first_seq=50))
    assert not Report.objects.exists()  # two lines in each conversation stay below 3.0
    assert ConversationScore.objects.filter(user=rude).count() == 2
    assert ConversationScore.objects.get(user=kind).flagged_lines == 1


def test_lines_from_unknown_senders_are_skipped(pair) -> None:  # noqa: ANN001
    rude, kind, conversation = pair
    ghost = PendingLine(str(conversation.id), 1, 999_999, ABUSIVE[0])
    assert record_scores([ghost]) == []
    assert not LineScore.objects.exists()


def test_line_relayed_queues_the_line_in_redis(queue_in_redis: redis.Redis) -> None:
    async def relay_one() -> None:
        await line_relayed("7d3c0b1e-3f5a-4c8e-9d61-2b8f0f6a1c11", 3, 42, "hello")
        await flush_relayed()

    asyncio.run(relay_one())
    queued = queue_in_redis.lrange(PENDING_KEY, 0, -1)
    assert [json.loads(item) for item in queued] == [
        {"c": "7d3c0b1e-3f5a-4c8e-9d61-2b8f0f6a1c11", "s": 3, "u": 42, "t": "hello"}]


def test_line_relayed_never_raises_when_redis_is_down(settings) -> None:  # noqa: ANN001
    settings.REDIS_URL = "redis://127.0.0.1:9/0"
    asyncio.run(line_relayed("7d3c0b1e-3f5a-4c8e-9d61-2b8f0f6a1c11", 1, 1, "hello"))


def test_line_relayed_ignores_bad_arguments_without_raising(settings) -> None:  # noqa: ANN001
    asyncio.run(line_relayed("x", "not a number", None, "hello"))  # type: ignore[arg-type]


def test_task_drains_the_queue_and_files_the_report(
        pair, queue_in_redis: redis.Redis) -> None:  # noqa: ANN001
    rude, kind, conversation = pair
    relay(kind, conversation, CLEAN)
    relay(rude, conversation, ABUSIVE, first_seq=100)
    analyse_pending.apply()
    assert queue_in_redis.llen(PENDING_KEY) == 0
    assert Report.objects.get().reported == rude


def test_task_run_twice_on_the_same_batch_counts_it_once(
        pair, queue_in_redis: redis.Redis) -> None:  # noqa: ANN001
    rude, kind, conversation = pair
    relay(rude, conversation, ABUSIVE)
    pushed = queue_in_redis.lrange(PENDING_KEY, 0, -1)
    analyse_pending.apply()
    first = ConversationScore.objects.get(user=rude)
    # A worker that stored the batch but died before trimming the list: it comes again.
    queue_in_redis.rpush(PENDING_KEY, *pushed)
    analyse_pending.apply()
    again = ConversationScore.objects.get(user=rude)
    assert (again.total, again.flagged_lines) == (first.total, first.flagged_lines)
    assert LineScore.objects.count() == len(ABUSIVE)
    assert Report.objects.count() == 1


def test_task_batches_by_the_batch_size(pair, queue_in_redis, settings) -> None:  # noqa: ANN001
    settings.ANALYSIS_BATCH_SIZE = 3
    settings.ANALYSIS_BATCHES_PER_TASK = 2
    rude, kind, conversation = pair
    relay(kind, conversation, CLEAN * 2)  # ten lines
    assert analyse_pending.apply().get() == 6
    assert queue_in_redis.llen(PENDING_KEY) == 4
    assert analyse_pending.apply().get() == 4


def test_malformed_queue_entries_are_dropped_and_the_rest_scored(
        pair, queue_in_redis: redis.Redis) -> None:  # noqa: ANN001
    rude, kind, conversation = pair
    queue_in_redis.rpush(PENDING_KEY, "not json", json.dumps({"c": "nope", "s": 1}))
    relay(rude, conversation, ABUSIVE)
    analyse_pending.apply()
    assert queue_in_redis.llen(PENDING_KEY) == 0
    assert Report.objects.get().reported == rude


def test_a_drain_running_elsewhere_leaves_the_queue_alone(
        pair, queue_in_redis: redis.Redis) -> None:  # noqa: ANN001
    rude, kind, conversation = pair
    relay(rude, conversation, ABUSIVE)
    queue_in_redis.set(analysis.DRAIN_LOCK_KEY, "another worker", ex=30)
    assert analyse_pending.apply().get() == 0
    assert queue_in_redis.llen(PENDING_KEY) == len(ABUSIVE)
    queue_in_redis.delete(analysis.DRAIN_LOCK_KEY)
    assert analyse_pending.apply().get() == len(ABUSIVE)


def test_embedded_default_analyses_in_a_background_thread(
        postgres: None, transactional_db: None) -> None:
    rude = User.objects.create(username="rude")
    kind = User.objects.create(username="kind")
    conversation = Conversation.objects.create(user_a=rude, user_b=kind)
    relay(rude, conversation, ABUSIVE)
    assert analysis.local_queue().wait_idle(timeout=60)
    deadline = time.monotonic() + 10
    while not Report.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert Report.objects.get().reported == rude
