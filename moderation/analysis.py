"""Analysis of relayed lines away from the relay: harm rules and an offline classifier.

The live socket hands every relayed line to `logged_line_relayed`, which only queues it: the
line's entry in the live log, which is already encrypted (`plumbing.crypto`, HISTORY_KEYS), so
one encryption per line serves both (`line_relayed` encrypts a text of its own for other
callers). With `REDIS_URL` set, the
lines gathered for `ANALYSIS_FLUSH_MS` go onto the Redis list `analysis:pending` in one
script call (the list lives in Redis, not in the Celery broker, so lines wait there while
workers or the broker are down); on the embedded default, an in-process queue that a
background thread drains. No queue ever holds a line's text in plaintext, and none keeps it
long: a line older than `ANALYSIS_PENDING_TTL_SECONDS` is dropped unanalysed (by the next
push, or by the worker), the list itself expires that long after its last push, and it holds
at most `ANALYSIS_PENDING_MAX` lines. The Celery task `moderation.tasks.analyse_pending` (on
beat, and nudged by `line_relayed` at most every `ANALYSIS_TRIGGER_MS`) drains the list in
batches of `ANALYSIS_BATCH_SIZE`.

Each batch is decrypted in the worker's memory and
- run through the harm rules (`moderation.filtering.harm`): a threat, doxxing, encouragement of
  self-harm, a slur aimed at someone, or minor-safety talk (judged with the conversation's
  other lines, read from the encrypted live log, so no extra state is kept) files or raises
  one automatic report per sender and conversation, with the most severe reason seen;
- scored by alt-profanity-check (a scikit-learn model shipped inside the package) in one
  call. Lines scoring at least `ANALYSIS_LINE_MIN_SCORE` are stored as `LineScore` rows (ids
  and a number, no text), and each sender's `ConversationScore` is recomputed from them, so a
  batch scored twice counts once. The score is weight, not a trigger: profanity ("worthless
  idiot") is not harm, so it raises the priority of a report but files none, unless a
  deployment sets `ANALYSIS_CLASSIFIER_REPORTS`, where a tally reaching
  `ANALYSIS_REPORT_THRESHOLD` files a harassment report.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import kombu
import orjson
import redis
from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import Count, Max, Sum
from redis.exceptions import LockNotOwnedError

from accounts.models import User
from chatsite.celery import app as celery_app
from chatsite.plumbing.crypto import InvalidToken, decrypt_text, encrypt_text, open_line_text
from chatsite.plumbing.live import live_lines as read_live_lines
from chatsite.plumbing.runtime import runtime
from moderation.filtering import harm
from moderation.filtering.filters import filter_line, readable
from moderation.lua import scripts
from moderation.models import ConversationScore, LineScore, Report
from moderation.priority import SEVERITY, refresh_priorities
from moderation.reports import evidence_from, file_report

logger = logging.getLogger(__name__)

PENDING_KEY = "analysis:pending"
DRAIN_LOCK_KEY = "analysis:drain-lock"
# Long enough for a full task run; a worker that dies holding it only delays the next drain.
DRAIN_LOCK_SECONDS = 120
CLASSIFIER_REPORT_REASON = Report.Reason.HARASSMENT
# Sent by name, so that this module need not import moderation.tasks (which imports it).
DRAIN_TASK = "moderation.tasks.analyse_pending"
CONVERSATION = Report._meta.get_field("conversation").related_model


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class PendingLine:
    """A relayed line waiting for analysis, its text encrypted (`plumbing.crypto`): a Fernet
    token of the text alone, or, when `logged`, the live log's own entry for the line (the
    line as JSON, `text` as relayed and `said` when the filter masked it, sealed by
    `seal_line_text`), so that one encryption per line serves both the log and the analysis."""

    conversation: str
    seq: int
    sender: int
    sealed: str
    queued_ms: int = 0
    logged: bool = False

    @classmethod
    def seal(cls, conversation: object, seq: object, sender: object,
             text: object) -> PendingLine | None:
        """The line with its text encrypted, or None when an argument is not what it must be."""
        if not isinstance(text, str) or isinstance(seq, bool) or isinstance(sender, bool):
            return None
        try:
            line = cls(str(uuid.UUID(str(conversation))), int(seq),  # type: ignore[arg-type]
                       int(sender), encrypt_text(text).decode(), now_ms())  # type: ignore[arg-type]
        except (ValueError, TypeError):
            return None
        return line if line.seq >= 0 and line.sender > 0 else None

    def text(self) -> str | None:
        """The plaintext, in memory only; None when no current key opens it."""
        try:
            if not self.logged:
                return decrypt_text(self.sealed.encode())
            entry = json.loads(open_line_text(self.sealed))
            text = entry.get("said", entry.get("text"))  # what was said, before masking
        except (InvalidToken, UnicodeError, ValueError, AttributeError):
            return None
        return text if isinstance(text, str) else None

    def encode(self) -> str:
        return f"{self.queued_ms}|" + orjson.dumps(
            {"c": self.conversation, "s": self.seq, "u": self.sender,
             "l" if self.logged else "x": self.sealed}).decode()

    @classmethod
    def decode(cls, raw: str | bytes) -> PendingLine | None:
        """The line, or None for anything malformed (which is then dropped)."""
        try:
            if isinstance(raw, bytes):
                raw = raw.decode()
            stamp, _, payload = raw.partition("|")
            data = json.loads(payload)
            logged = "l" in data
            line = cls(str(uuid.UUID(data["c"])), int(data["s"]), int(data["u"]),
                       str(data["l" if logged else "x"]), int(stamp), logged)
        except (ValueError, TypeError, KeyError, AttributeError):
            return None
        return line if line.seq >= 0 and line.sender > 0 else None

    def stale(self, now: int) -> bool:
        return now - self.queued_ms > settings.ANALYSIS_PENDING_TTL_SECONDS * 1000


# ---- the relay's side: queue and return ----

async def line_relayed(conversation_id: str, seq: int, sender_id: int, text: str) -> bool:
    """Queue one relayed line for analysis, encrypted. Never waits on the analysis: lines are
    gathered in memory and pushed to Redis together every ANALYSIS_FLUSH_MS.

    False when the line was not queued (analysis off, or arguments that are not a line)."""
    if not settings.ANALYSIS_ENABLED:
        return False
    line = PendingLine.seal(conversation_id, seq, sender_id, text)
    if line is None:
        logger.warning("a line of conversation %r not queued for analysis: bad arguments",
                       str(conversation_id)[:40])
        return False
    return _queue(line)


def logged_line_relayed(conversation_id: str, seq: int, sender_id: int, entry: str) -> bool:
    """`line_relayed` for the relay's own path: `entry` is the line's encrypted entry in the
    live log (`chat.store.seal_line`), queued as it is, with no second encryption. The
    arguments come from the server itself (the store's conversation, its number, the socket's
    user), so they are not checked again; the worker's `PendingLine.decode` checks them."""
    if not settings.ANALYSIS_ENABLED:
        return False
    return _queue(PendingLine(conversation_id, seq, sender_id, entry, now_ms(), logged=True))


def _queue(line: PendingLine) -> bool:
    if not settings.REDIS_URL:
        local_queue().put(line)
        return True
    outbox = _outbox()
    outbox.lines.append(line.encode())
    if outbox.task is None or outbox.task.done():
        outbox.task = asyncio.get_running_loop().create_task(_flush_soon())
    return True


class _Outbox:
    def __init__(self) -> None:
        self.lines: list[str] = []  # encoded PendingLines: their text is encrypted
        self.task: asyncio.Task | None = None
        self.last_trigger = 0.0  # time.monotonic() of the last nudge to the worker


def _outbox() -> _Outbox:
    """The running event loop's outbox, held by the process's runtime."""
    return runtime().loop_part("analysis.outbox", _Outbox)


async def _flush_soon() -> None:
    await asyncio.sleep(settings.ANALYSIS_FLUSH_MS / 1000)
    await flush_relayed()


async def flush_relayed() -> int:
    """Push the lines this event loop has gathered (the relay's own task; tests); the number
    pushed. Lines that cannot be pushed (Redis down) are dropped, never retried from memory."""
    outbox = _outbox()
    lines, outbox.lines = outbox.lines, []
    if not lines:
        return 0
    ttl_ms = settings.ANALYSIS_PENDING_TTL_SECONDS * 1000
    try:
        script = scripts(settings.REDIS_URL).script("enqueue")  # moderation/lua/enqueue.lua
        await asyncio.wait_for(
            script(keys=[PENDING_KEY], args=[settings.ANALYSIS_PENDING_MAX, ttl_ms,
                                             now_ms() - ttl_ms, *lines]),
            settings.ANALYSIS_ENQUEUE_TIMEOUT_MS / 1000)
    except (redis.RedisError, OSError, TimeoutError) as error:  # never break the relay
        logger.warning("%d lines not queued for analysis: %s", len(lines),
                       type(error).__name__)
        return 0
    if _nudge_due(outbox) and (nudge := worker_nudge()) is not None:
        await nudge.send()
    return len(lines)


def _nudge_due(outbox: _Outbox) -> bool:
    interval = settings.ANALYSIS_TRIGGER_MS / 1000
    now = time.monotonic()
    if not interval or now - outbox.last_trigger < interval:
        return False
    outbox.last_trigger = now
    return True


@dataclass(frozen=True)
class WorkerNudge:
    """The drain task's message, sent to a worker through the broker's Redis as Celery would
    send it, from the event loop: Celery's own `send_task` costs 1.5-2 ms of Python a call
    (kombu's producer, routing, serialisation, a blocking socket), which off the loop, in a
    thread, took the interpreter from the relay twice a second and raised its p99 by half;
    here a nudge is one LPUSH on the loop's lean connection (`plumbing.resp`).

    The message is made once, at start, by Celery and kombu themselves: published to kombu's
    in-memory transport (the same virtual transport as its Redis one, up to the last step) and
    taken back from there; each nudge sends a copy with its own id and expiry. A broker that
    is not Redis, or a route with a priority, has no nudge (a warning at start): beat's drain
    every ANALYSIS_DRAIN_SECONDS still comes."""

    broker_url: str
    queue_key: str  # the list kombu's Redis transport pushes the queue's messages to
    message: dict[str, Any]
    expires_seconds: float

    @classmethod
    def made_by_celery(cls) -> WorkerNudge | None:
        if celery_app.conf.task_always_eager or not settings.ANALYSIS_TRIGGER_MS:
            return None
        broker_url = celery_app.conf.broker_url or ""
        if urlsplit(broker_url).scheme not in ("redis", "rediss"):
            logger.warning("analysis: no nudge for a broker that is not Redis (%s); beat "
                           "drains every %s s", urlsplit(broker_url).scheme,
                           settings.ANALYSIS_DRAIN_SECONDS)
            return None
        expires = 2 * settings.ANALYSIS_DRAIN_SECONDS  # a drain that waited longer is stale
        with kombu.Connection("memory://") as memory:
            celery_app.send_task(DRAIN_TASK, retry=False, expires=expires,
                                 producer=celery_app.amqp.Producer(memory))
            channel = memory.default_channel
            route = celery_app.amqp.router.route({}, DRAIN_TASK)["queue"]
            queues = list(channel._lookup(route.exchange.name, route.routing_key))
            message = channel._get(queues[0]) if len(queues) == 1 else None
        if message is None or message["properties"].get("priority"):
            # A route to several queues (a fanout) or with a priority puts the message in
            # other lists than one LPUSH would reach.
            logger.warning("analysis: no nudge for the drain task's route (%d queues, priority "
                           "%s); beat drains every %s s", len(queues),
                           message and message["properties"].get("priority"),
                           settings.ANALYSIS_DRAIN_SECONDS)
            return None
        prefix = celery_app.conf.broker_transport_options.get("global_keyprefix", "")
        return cls(broker_url, f"{prefix}{queues[0]}", message, expires)

    def message_json(self) -> bytes:
        """A copy of the message with its own task id, delivery tag and expiry."""
        task_id = str(uuid.uuid4())
        expires = datetime.now(UTC) + timedelta(seconds=self.expires_seconds)
        message = self.message
        return orjson.dumps({
            **message,
            "headers": {**message["headers"], "id": task_id, "root_id": task_id,
                        "expires": expires.isoformat()},
            "properties": {**message["properties"], "correlation_id": task_id,
                           "delivery_tag": str(uuid.uuid4())}})

    async def send(self) -> None:
        try:
            # Bounded as the enqueue is: the flush that nudges must end, or no later flush
            # starts and the outbox only grows.
            await asyncio.wait_for(
                runtime().lean_redis(self.broker_url).execute(
                    "LPUSH", self.queue_key, self.message_json()),
                settings.ANALYSIS_ENQUEUE_TIMEOUT_MS / 1000)
        except (redis.RedisError, OSError, TimeoutError):  # beat sends it once the broker is back
            logger.info("analysis not triggered: broker unavailable")


def worker_nudge() -> WorkerNudge | None:
    """The process's nudge of the analysis worker (None: no worker to nudge)."""
    return runtime().part("analysis.worker_nudge", WorkerNudge.made_by_celery)


def prepare_worker_nudge() -> None:
    """Make the nudge's message at start, not in the middle of the relay's first lines (the
    first send through Celery imports kombu's transports and sets up a producer: 40-70 ms
    holding the interpreter)."""
    worker_nudge()


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


def local_queue() -> LocalQueue:
    """The process's in-memory queue and its thread, held by the process's runtime."""
    return runtime().part("analysis.local",
                          lambda: LocalQueue(settings.ANALYSIS_PENDING_MAX, record_scores))


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


def harm_of(text: str) -> frozenset[str]:
    """The harm rules' categories for one line (the same rules the inline filter runs)."""
    return filter_line(text).harm


def record_scores(lines: Sequence[PendingLine]) -> list[Report]:
    """Analyse a batch: store its flagged lines and file or raise the reports it calls for;
    the reports filed or raised.

    Safe to run again on the same lines: nothing is counted twice, and a sender has one
    automatic report per conversation, raised to the most severe reason seen."""
    now = now_ms()
    opened = [(line, text) for line in lines
              if not (line.queued_ms and line.stale(now)) and (text := line.text()) is not None]
    if not opened:
        return []
    known = set(User.objects.filter(id__in={line.sender for line, _ in opened})
                .values_list("id", flat=True))
    opened = [(line, text) for line, text in opened if line.sender in known]
    scores = classifier_scores([text for _, text in opened])
    rows = [LineScore(conversation=line.conversation, seq=line.seq, sender_id=line.sender,
                      score=score)
            for (line, _), score in zip(opened, scores, strict=True)
            if score >= settings.ANALYSIS_LINE_MIN_SCORE]
    LineScore.objects.bulk_create(rows, ignore_conflicts=True)
    tallies = update_tallies({(uuid.UUID(row.conversation), row.sender_id) for row in rows})
    reasons: dict[tuple[str, int], set[str]] = {}
    if settings.ANALYSIS_CLASSIFIER_REPORTS:
        for tally in tallies:
            if tally.total >= settings.ANALYSIS_REPORT_THRESHOLD:
                reasons.setdefault((str(tally.conversation), tally.user_id), set()).add(
                    "classifier")
    for key, categories in harm_findings(opened).items():
        reasons.setdefault(key, set()).update(categories)
    reports = []
    for (conversation, user_id), categories in reasons.items():
        if user_id in known or User.objects.filter(id=user_id).exists():
            report = raise_automatic_report(uuid.UUID(conversation), user_id, categories)
            if report is not None:
                reports.append(report)
    return reports


def harm_findings(opened: Iterable[tuple[PendingLine, str]]) -> dict[tuple[str, int], set[str]]:
    """(conversation, user) -> the reported harm categories the lines call for."""
    findings: dict[tuple[str, int], set[str]] = {}
    logs: dict[str, list[tuple[int, int, frozenset[str]]]] = {}
    for line, text in opened:
        hits = harm_of(text)
        for category in hits & harm.REPORTED.keys():
            findings.setdefault((line.conversation, line.sender), set()).add(category)
        if not hits & harm.CONTEXT:
            continue
        if line.conversation not in logs:
            logs[line.conversation] = [
                (int(logged.get("sender") or 0), int(logged.get("seq") or 0),
                 harm_of(logged.get("said") or logged.get("text") or ""))
                for logged in live_lines(line.conversation)]
        others = [(sender, found) for sender, seq, found in logs[line.conversation]
                  if seq != line.seq]
        for offender in harm.minor_safety(line.sender, hits, others):
            findings.setdefault((line.conversation, offender), set()).add(harm.MINOR_SAFETY)
    return findings


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


def report_reason(categories: Iterable[str]) -> str:
    """The most severe report reason among the categories ("classifier": harassment)."""
    reasons = [harm.REPORTED.get(category, CLASSIFIER_REPORT_REASON) for category in categories]
    return max(reasons, key=lambda reason: SEVERITY.get(reason, 0.0))


def _note(categories: Iterable[str], tally: ConversationScore) -> str:
    names = sorted(category.replace("_", " ") for category in categories)
    return (f"Automatic: {', '.join(names)} (classifier: {tally.flagged_lines} lines flagged, "
            f"total {tally.total:.2f}, highest {tally.max_score:.2f}).")


def raise_automatic_report(conversation: uuid.UUID, user_id: int,
                           categories: set[str]) -> Report | None:
    """File the one automatic report of a sender in a conversation, or raise the one there is
    to a more severe reason; None when there was nothing to change."""
    reason = report_reason(categories)
    known = (ConversationScore.objects.filter(conversation=conversation, user_id=user_id)
             .select_related("report").first())
    if known is not None and known.report is not None and not _raises(known.report, reason,
                                                                      categories):
        # Nothing new but perhaps the classifier's weight: no evidence read for that.
        evidence: list[dict[str, str]] = []
    else:
        # Read before taking the row lock: no lock is held while waiting on Redis.
        evidence = live_evidence(str(conversation))
    # The live conversation's row (chat's model, reached through the report's foreign key).
    exists = CONVERSATION.objects.filter(id=conversation).exists()
    with transaction.atomic():
        tally, _ = ConversationScore.objects.select_for_update().get_or_create(
            conversation=conversation, user_id=user_id)
        if tally.report_id is None:
            tally.report = file_report(
                None, user_id, str(conversation) if exists else None, reason,
                note=_note(categories, tally), evidence=evidence,
                classifier_score=tally.max_score or None)
            tally.save(update_fields=["report", "updated_at"])
            return tally.report
        report = Report.objects.select_for_update().get(pk=tally.report_id)
        changed = []
        if SEVERITY.get(reason, 0.0) > SEVERITY.get(report.reason, 0.0):
            report.reason = reason
            changed.append("reason")
        missing = _missing(report, categories)
        if missing:
            report.note = _note(categories | set(missing), tally)[:1000]
            changed.append("note")
        if evidence and len(evidence) > len(report.evidence):
            report.evidence = evidence
            changed.append("evidence")
        if tally.max_score and (report.classifier_score or 0) < tally.max_score:
            report.classifier_score = tally.max_score
            changed.append("classifier_score")
        if not changed:
            return None
        report.save(update_fields=changed)
    refresh_priorities(report_id=report.pk)
    return report


def _missing(report: Report, categories: set[str]) -> list[str]:
    return [c for c in categories if c.replace("_", " ") not in report.note]


def _raises(report: Report, reason: str, categories: set[str]) -> bool:
    """Whether these categories make the report more severe or say something new."""
    return (SEVERITY.get(reason, 0.0) > SEVERITY.get(report.reason, 0.0)
            or bool(_missing(report, categories)))


def live_lines(conversation: str) -> list[dict[str, Any]]:
    """The conversation's lines from the encrypted live log, while it keeps them."""
    try:
        return list(read_live_lines(conversation))
    except (redis.RedisError, OSError, InvalidToken, ValueError):
        # A report without evidence still belongs in the queue.
        logger.warning("no live lines for conversation %s", conversation)
        return []


def live_evidence(conversation: str) -> list[dict[str, str]]:
    """The conversation's last lines from the live log, with handles."""
    lines = live_lines(conversation)
    handles = dict(User.objects.filter(id__in={line.get("sender") for line in lines})
                   .values_list("id", "username"))
    return evidence_from(lines, handles)


def drain_pending() -> int:
    """Analyse what waits in the queue, in batches; the number of lines analysed.

    Lines leave the Redis list only after their batch is stored, so a worker that dies
    mid-batch leaves them for the next run; one drain at a time (redis-py's `Lock`), so two
    workers never remove each other's batch."""
    if not settings.REDIS_URL:
        queue = local_queue()
        scored = 0
        while batch := queue.take(settings.ANALYSIS_BATCH_SIZE):
            record_scores(batch)
            scored += len(batch)
        return scored
    client = runtime().sync_redis(settings.REDIS_URL)
    lock = client.lock(DRAIN_LOCK_KEY, timeout=DRAIN_LOCK_SECONDS, blocking=False)
    if not lock.acquire():
        return 0
    dequeue = scripts(settings.REDIS_URL).sync_script("dequeue")  # moderation/lua/dequeue.lua
    scored = 0
    try:
        for _ in range(settings.ANALYSIS_BATCHES_PER_TASK):
            raw = client.lrange(PENDING_KEY, 0, settings.ANALYSIS_BATCH_SIZE - 1)
            if not raw:
                break
            batch = [line for line in map(PendingLine.decode, raw) if line is not None]
            record_scores(batch)
            dequeue(keys=[PENDING_KEY], args=raw)
            scored += len(batch)
            # A long drain keeps its lock batch by batch; one that lost it stops here.
            lock.reacquire()
    except LockNotOwnedError:
        logger.warning("analysis drain lock expired; another drain continues")
    finally:
        with contextlib.suppress(LockNotOwnedError):
            lock.release()
    return scored
