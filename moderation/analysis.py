"""Analysis of relayed lines by an offline classifier, away from the relay.

The live socket hands every relayed line to `line_relayed`, which only queues it: with
`REDIS_URL` set, one RPUSH onto the Redis list `analysis:pending` (the list lives in Redis,
not in the Celery broker, so lines wait there while workers or the broker are down); on the
embedded default, an in-process queue that a background thread drains. The Celery task
`moderation.tasks.analyse_pending` (on beat, and nudged by `line_relayed` at most every
`ANALYSIS_TRIGGER_MS`) drains the list in batches of `ANALYSIS_BATCH_SIZE`.

Each batch is scored by alt-profanity-check (a scikit-learn model shipped inside the package)
in one call. Lines scoring at least `ANALYSIS_LINE_MIN_SCORE` are stored as `LineScore` rows,
one per (conversation, seq), and each sender's `ConversationScore` is recomputed from those
rows, so a batch scored twice counts once. When a sender's total in a conversation reaches
`ANALYSIS_REPORT_THRESHOLD`, one automatic report (no reporter) goes into the moderators'
queue through `moderation.reports.file_report`.
"""
from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import redis
from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import Count, Max, Sum

from chat.redis_client import get_redis
from moderation.filters import readable
from moderation.models import ConversationScore, LineScore, Report
from moderation.reports import evidence_from

logger = logging.getLogger(__name__)

PENDING_KEY = "analysis:pending"
DRAIN_LOCK_KEY = "analysis:drain-lock"
# Long enough for a full task run; a worker that dies holding it only delays the next drain.
DRAIN_LOCK_SECONDS = 120
AUTOMATIC_REPORT_REASON = Report.Reason.HARASSMENT


@dataclass(frozen=True, slots=True)
class PendingLine:
    conversation: str
    seq: int
    sender: int
    text: str

    def encode(self) -> str:
        return json.dumps({"c": self.conversation, "s": self.seq, "u": self.sender,
                           "t": self.text}, separators=(",", ":"))

    @classmethod
    def decode(cls, raw: str | bytes) -> PendingLine | None:
        """The line, or None for anything malformed (which is then dropped)."""
        try:
            data = json.loads(raw)
            line = cls(str(uuid.UUID(data["c"])), int(data["s"]), int(data["u"]),
                       str(data["t"]))
        except (ValueError, TypeError, KeyError, AttributeError):
            return None
        return line if line.seq >= 0 and line.sender > 0 else None


# ---- the relay's side: queue and return ----

_last_trigger = 0.0


async def line_relayed(conversation_id: str, seq: int, sender_id: int, text: str) -> None:
    """Queue one relayed line for analysis. Never raises and never waits on the analysis:
    lines are gathered in memory and pushed to Redis together every ANALYSIS_FLUSH_MS."""
    try:
        if not settings.ANALYSIS_ENABLED:
            return
        line = PendingLine(str(uuid.UUID(str(conversation_id))), int(seq), int(sender_id),
                           str(text))
        if not settings.REDIS_URL:
            local_queue().put(line)
            return
        outbox = _outbox()
        outbox.lines.append(line.encode())
        if outbox.task is None or outbox.task.done():
            outbox.task = asyncio.get_running_loop().create_task(_flush_soon())
    except Exception:  # analysis must never break the relay
        logger.warning("line %s.%s not queued for analysis", conversation_id, seq,
                       exc_info=True)


class _Outbox:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.task: asyncio.Task | None = None


_outboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Outbox] = (
    weakref.WeakKeyDictionary())


def _outbox() -> _Outbox:
    return _outboxes.setdefault(asyncio.get_running_loop(), _Outbox())


async def _flush_soon() -> None:
    await asyncio.sleep(settings.ANALYSIS_FLUSH_MS / 1000)
    await flush_relayed()


async def flush_relayed() -> None:
    """Push the lines this event loop has gathered (the relay's own task; tests)."""
    outbox = _outbox()
    lines, outbox.lines = outbox.lines, []
    if not lines:
        return
    try:
        pipe = get_redis(settings.REDIS_URL).pipeline(transaction=False)
        pipe.rpush(PENDING_KEY, *lines)
        # Workers down for long: keep the newest lines rather than fill Redis.
        pipe.ltrim(PENDING_KEY, -settings.ANALYSIS_PENDING_MAX, -1)
        await asyncio.wait_for(pipe.execute(), settings.ANALYSIS_ENQUEUE_TIMEOUT_MS / 1000)
        _nudge_worker()
    except Exception:  # analysis must never break the relay
        logger.warning("%d lines not queued for analysis", len(lines), exc_info=True)


def _nudge_worker() -> None:
    global _last_trigger
    interval = settings.ANALYSIS_TRIGGER_MS / 1000
    now = time.monotonic()
    if not interval or now - _last_trigger < interval:
        return
    _last_trigger = now
    # Publishing may wait on a broker that is down; that wait belongs off the event loop.
    asyncio.get_running_loop().run_in_executor(None, _send_drain_task)


def _send_drain_task() -> None:
    from moderation.tasks import analyse_pending

    if analyse_pending.app.conf.task_always_eager:
        return  # no worker to nudge; running the drain here would put it back on the relay
    try:
        analyse_pending.apply_async(retry=False, expires=2 * settings.ANALYSIS_DRAIN_SECONDS)
    except Exception:  # the broker is down: beat sends the task once it is back
        logger.info("analysis not triggered: broker unavailable", exc_info=True)


# ---- the embedded default: an in-process queue and one thread ----


class LocalQueue:
    """Lines waiting in this process, drained by one daemon thread."""

    def __init__(self, maxlen: int, score: Callable[[Sequence[PendingLine]], object]) -> None:
        self.lines: deque[PendingLine] = deque(maxlen=maxlen)
        self.wakeup = threading.Event()
        self.idle = threading.Event()
        self.idle.set()
        self.score = score
        self.thread = threading.Thread(target=self._run, name="line-analysis", daemon=True)
        self.thread.start()

    def put(self, line: PendingLine) -> None:
        self.idle.clear()
        self.lines.append(line)
        self.wakeup.set()

    def take(self, count: int) -> list[PendingLine]:
        taken: list[PendingLine] = []
        while self.lines and len(taken) < count:
            taken.append(self.lines.popleft())
        return taken

    def wait_idle(self, timeout: float) -> bool:
        return self.idle.wait(timeout)

    def _run(self) -> None:
        while True:
            self.wakeup.wait()
            self.wakeup.clear()
            while batch := self.take(settings.ANALYSIS_BATCH_SIZE):
                try:
                    self.score(batch)
                except Exception:
                    logger.exception("analysis of %d lines failed", len(batch))
                finally:
                    close_old_connections()
            if not self.lines:
                self.idle.set()


_local: LocalQueue | None = None
_local_lock = threading.Lock()


def local_queue() -> LocalQueue:
    global _local
    with _local_lock:
        if _local is None:
            _local = LocalQueue(settings.ANALYSIS_PENDING_MAX, record_scores)
        return _local


# ---- the worker's side ----


@lru_cache(maxsize=1)
def _classifier() -> Callable[[list[str]], Sequence[float]]:
    # Imported on first use: scikit-learn costs a web process ~0.7 s and memory it never needs.
    from profanity_check import predict_prob

    return predict_prob


def classifier_scores(texts: Sequence[str]) -> list[float]:
    """The classifier's probability (0..1) that each line is offensive, in one batch call."""
    if not texts:
        return []
    return [float(score) for score in _classifier()([readable(text) for text in texts])]


def record_scores(lines: Sequence[PendingLine]) -> list[Report]:
    """Score a batch, store its flagged lines and file the reports it crosses the threshold for.

    Safe to run again on the same lines: nothing is counted twice."""
    from accounts.models import User

    if not lines:
        return []
    scores = classifier_scores([line.text for line in lines])
    flagged = [(line, score) for line, score in zip(lines, scores, strict=True)
               if score >= settings.ANALYSIS_LINE_MIN_SCORE]
    if not flagged:
        return []
    known = set(User.objects.filter(id__in={line.sender for line, _ in flagged})
                .values_list("id", flat=True))
    rows = [LineScore(conversation=line.conversation, seq=line.seq, sender_id=line.sender,
                      score=score) for line, score in flagged if line.sender in known]
    LineScore.objects.bulk_create(rows, ignore_conflicts=True)
    pairs = {(uuid.UUID(row.conversation), row.sender_id) for row in rows}
    tallies = update_tallies(pairs)
    reports = []
    for tally in tallies:
        if tally.report_id is None and tally.total >= settings.ANALYSIS_REPORT_THRESHOLD:
            report = file_automatic_report(tally.conversation, tally.user_id)
            if report is not None:
                reports.append(report)
    return reports


def update_tallies(pairs: set[tuple[uuid.UUID, int]]) -> list[ConversationScore]:
    """Recompute the tallies of these (conversation, sender) pairs from their LineScore rows.

    Recomputed rather than incremented, so that scoring a line twice changes nothing."""
    if not pairs:
        return []
    sums = (LineScore.objects
            .filter(conversation__in={c for c, _ in pairs}, sender_id__in={u for _, u in pairs})
            .values("conversation", "sender_id")
            .annotate(total=Sum("score"), lines=Count("id"), highest=Max("score")))
    tallies = [ConversationScore(conversation=row["conversation"], user_id=row["sender_id"],
                                 total=row["total"], flagged_lines=row["lines"],
                                 max_score=row["highest"])
               for row in sums if (row["conversation"], row["sender_id"]) in pairs]
    ConversationScore.objects.bulk_create(
        tallies, update_conflicts=True, unique_fields=["conversation", "user"],
        update_fields=["total", "flagged_lines", "max_score", "updated_at"])
    return list(ConversationScore.objects.filter(
        conversation__in={c for c, _ in pairs}, user_id__in={u for _, u in pairs}))


def file_automatic_report(conversation: uuid.UUID, user_id: int) -> Report | None:
    """File the one automatic report of a tally over the threshold; None if it has one."""
    from chat.models import Conversation
    from moderation.reports import file_report

    with transaction.atomic():
        tally = ConversationScore.objects.select_for_update().get(conversation=conversation,
                                                                  user_id=user_id)
        if tally.report_id is not None or tally.total < settings.ANALYSIS_REPORT_THRESHOLD:
            return None
        exists = Conversation.objects.filter(id=conversation).exists()
        tally.report = file_report(
            None, user_id, str(conversation) if exists else None, AUTOMATIC_REPORT_REASON,
            note=(f"Automatic: the classifier flagged {tally.flagged_lines} lines "
                  f"(total {tally.total:.2f}, highest {tally.max_score:.2f})."),
            evidence=live_evidence(str(conversation)),
            classifier_score=tally.max_score)
        tally.save(update_fields=["report", "updated_at"])
    return tally.report


def live_evidence(conversation: str) -> list[dict[str, str]]:
    """The conversation's last lines from the live log, while it keeps them, with handles."""
    from asgiref.sync import async_to_sync

    from accounts.models import User
    from chat.store import get_store

    try:
        lines = async_to_sync(get_store().lines_after)(conversation, 0)
    except Exception:  # a report without evidence still belongs in the queue
        logger.warning("no evidence for conversation %s", conversation, exc_info=True)
        return []
    handles = dict(User.objects.filter(id__in={line.get("sender") for line in lines})
                   .values_list("id", "username"))
    return evidence_from(lines, handles)


@lru_cache(maxsize=4)
def _sync_redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True, socket_timeout=10)


_RELEASE_LOCK = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


def drain_pending() -> int:
    """Score what waits in the queue, in batches; the number of lines scored.

    Lines leave the Redis list only after their batch is stored, so a worker that dies
    mid-batch leaves them for the next run; one drain at a time (a lock), so two workers
    never trim each other's batch."""
    if not settings.REDIS_URL:
        queue = local_queue()
        scored = 0
        while batch := queue.take(settings.ANALYSIS_BATCH_SIZE):
            record_scores(batch)
            scored += len(batch)
        return scored
    client = _sync_redis(settings.REDIS_URL)
    token = uuid.uuid4().hex
    if not client.set(DRAIN_LOCK_KEY, token, nx=True, ex=DRAIN_LOCK_SECONDS):
        return 0
    scored = 0
    try:
        for _ in range(settings.ANALYSIS_BATCHES_PER_TASK):
            raw = client.lrange(PENDING_KEY, 0, settings.ANALYSIS_BATCH_SIZE - 1)
            if not raw:
                break
            batch = [line for line in map(PendingLine.decode, raw) if line is not None]
            record_scores(batch)
            client.ltrim(PENDING_KEY, len(raw), -1)
            scored += len(batch)
    finally:
        client.eval(_RELEASE_LOCK, 1, DRAIN_LOCK_KEY, token)
    return scored
