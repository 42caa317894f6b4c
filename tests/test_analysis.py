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
    # A loaded test machine may take longer than the relay's 250 ms to reach Redis.
    settings.ANALYSIS_ENQUEUE_TIMEOUT_MS = 10_000
    client = redis.Redis.from_url(redis_live, decode_responses=True)
    yield client
    client.close()


def lines_of(user: User, conversation: Conversation, texts: list[str],
             first_seq: int = 1) -> list[PendingLine]:
    return [PendingLine.seal(str(conversation.id), seq, user.id, text)
            for seq, text in enumerate(texts, start=first_seq)]


def relay(user: User, conversation: Conversation, texts: list[str], first_seq: int = 1) -> None:
    async def send() -> None:
        for line in lines_of(user, conversation, texts, first_seq):
            await line_relayed(line.conversation, line.seq, line.sender, line.text())
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
    """ABUSIVE tells someone to kill themselves: a harm rule files the report, and the
    classifier's score rides along as weight."""
    rude, kind, conversation = pair
    reports = record_scores(lines_of(rude, conversation, ABUSIVE))
    assert len(reports) == 1
    report = Report.objects.get()
    assert report.reporter is None
    assert report.reported == rude
    assert report.conversation == conversation
    assert report.status == Report.Status.OPEN
    assert report.classifier_score > 0.8
    assert report.reason == Report.Reason.SELF_HARM
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


PROFANE = ["you are a fucking idiot", "shut up you stupid bitch", "fuck off asshole",
           "worthless idiot", "you piece of shit"]


def test_profanity_alone_files_no_report(pair) -> None:  # noqa: ANN001
    rude, kind, conversation = pair
    record_scores(lines_of(rude, conversation, PROFANE))
    assert ConversationScore.objects.get(user=rude).total > 3
    assert not Report.objects.exists()


def test_classifier_reports_when_a_deployment_asks(pair, settings) -> None:  # noqa: ANN001
    settings.ANALYSIS_CLASSIFIER_REPORTS = True
    rude, kind, conversation = pair
    record_scores(lines_of(rude, conversation, PROFANE))
    report = Report.objects.get()
    assert (report.reported, report.reason) == (rude, Report.Reason.HARASSMENT)


def test_below_the_threshold_no_report(pair, settings) -> None:  # noqa: ANN001
    settings.ANALYSIS_REPORT_THRESHOLD = 10.0
    settings.ANALYSIS_CLASSIFIER_REPORTS = True
    rude, kind, conversation = pair
    record_scores(lines_of(rude, conversation, PROFANE))
    assert not Report.objects.exists()
    assert ConversationScore.objects.get(user=rude).total > 3


def test_scores_count_per_sender_and_conversation(pair, settings) -> None:  # noqa: ANN001
    settings.ANALYSIS_CLASSIFIER_REPORTS = True
    rude, kind, conversation = pair
    other = Conversation.objects.create(user_a=rude, user_b=kind)
    record_scores(lines_of(rude, conversation, PROFANE[:2])
                  + lines_of(rude, other, PROFANE[2:4], first_seq=1)
                  + lines_of(kind, conversation, PROFANE[:1], first_seq=50))
    assert not Report.objects.exists()  # two lines in each conversation stay below 3.0
    assert ConversationScore.objects.filter(user=rude).count() == 2
    assert ConversationScore.objects.get(user=kind).flagged_lines == 1


def test_lines_from_unknown_senders_are_skipped(pair) -> None:  # noqa: ANN001
    rude, kind, conversation = pair
    ghost = PendingLine.seal(str(conversation.id), 1, 999_999, ABUSIVE[0])
    assert record_scores([ghost]) == []
    assert not LineScore.objects.exists()


def test_line_relayed_queues_the_line_encrypted_and_expiring(
        queue_in_redis: redis.Redis) -> None:
    async def relay_one() -> None:
        assert await line_relayed("7d3c0b1e-3f5a-4c8e-9d61-2b8f0f6a1c11", 3, 42,
                                  "hello there")
        assert await flush_relayed() == 1

    asyncio.run(relay_one())
    queued = queue_in_redis.lrange(PENDING_KEY, 0, -1)
    assert len(queued) == 1 and "hello" not in queued[0]
    line = PendingLine.decode(queued[0])
    assert (line.conversation, line.seq, line.sender, line.text()) == (
        "7d3c0b1e-3f5a-4c8e-9d61-2b8f0f6a1c11", 3, 42, "hello there")
    assert 0 < queue_in_redis.ttl(PENDING_KEY) <= 3600


def test_stale_lines_leave_the_queue_without_a_worker(
        pair, queue_in_redis: redis.Redis, settings) -> None:  # noqa: ANN001
    rude, kind, conversation = pair
    settings.ANALYSIS_PENDING_TTL_SECONDS = 60
    stale = lines_of(rude, conversation, ["an old line"])[0]
    old = PendingLine(stale.conversation, stale.seq, stale.sender, stale.sealed,
                      stale.queued_ms - 61_000)
    queue_in_redis.rpush(PENDING_KEY, old.encode())
    relay(kind, conversation, ["a new line"], first_seq=2)
    # The push dropped the stale line: no worker needed.
    assert [PendingLine.decode(raw).text() for raw in queue_in_redis.lrange(PENDING_KEY, 0, -1)
            ] == ["a new line"]
    # A worker that finds one anyway does not analyse it.
    assert record_scores([old]) == [] and not LineScore.objects.exists()


def test_line_relayed_drops_the_lines_when_redis_is_down(settings, caplog) -> None:  # noqa: ANN001
    settings.REDIS_URL = "redis://127.0.0.1:9/0"
    settings.ANALYSIS_TRIGGER_MS = 0

    async def relay_one() -> int:
        assert await line_relayed("7d3c0b1e-3f5a-4c8e-9d61-2b8f0f6a1c11", 1, 1, "secret words")
        return await flush_relayed()

    with caplog.at_level("WARNING", logger="moderation.analysis"):
        assert asyncio.run(relay_one()) == 0
    assert "1 lines not queued for analysis: ConnectionError" in caplog.text
    assert "secret" not in caplog.text


def test_line_relayed_refuses_bad_arguments(queue_in_redis: redis.Redis, caplog) -> None:  # noqa: ANN001
    async def relay_bad() -> list[bool]:
        results = [await line_relayed("x", 1, 1, "hello"),
                   await line_relayed("7d3c0b1e-3f5a-4c8e-9d61-2b8f0f6a1c11", "nope", 1, "hi"),
                   await line_relayed("7d3c0b1e-3f5a-4c8e-9d61-2b8f0f6a1c11", 1, None, "hi"),
                   await line_relayed("7d3c0b1e-3f5a-4c8e-9d61-2b8f0f6a1c11", 1, 1, None)]
        await flush_relayed()
        return results

    assert asyncio.run(relay_bad()) == [False] * 4
    assert queue_in_redis.llen(PENDING_KEY) == 0
    assert "hello" not in caplog.text


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
    held = queue_in_redis.lock(analysis.DRAIN_LOCK_KEY, timeout=30)
    assert held.acquire(blocking=False)
    assert analyse_pending.apply().get() == 0
    assert queue_in_redis.llen(PENDING_KEY) == len(ABUSIVE)
    held.release()
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
