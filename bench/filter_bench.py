"""Inline filter and line analysis benchmark.

1. The inline filter's cost per line: `filtering.filters.filter_line` over a realistic mix
   (by default 20,000 lines: about 76% ordinary chat lines, some non-ASCII; 12% with listed
   words, most of them disguised; 8% with contact details; 4% harm phrases or their harmless
   look-alikes), each line timed on its own after a warm-up, with the harm rules
   (`moderation.filtering.harm`) on and, for comparison, off. Figures: p50, p99 and mean in
   microseconds of wall time, and p99 of the thread's CPU time and of each line's best of
   five more runs (what the filter itself costs, without the pauses a busy machine adds),
   for every line, the lines that pass unchanged ("ordinary") and the lines that get masked.
   With `--baseline REV`, the filter as it was at that git revision (`moderation/filtering`
   from `git archive`, imported under another name) is timed in the same run, line by line in
   turn with the current one, so that both see the same machine; the run also counts the
   lines on which the two decide differently (masked text, categories, harm), which must be 0.
2. The analysis worker's throughput in lines per second, batched (ANALYSIS_BATCH_SIZE lines
   per classifier call) and one by one:
   - `classifier`: alt-profanity-check's scoring alone;
   - `drain`: the whole task (`drain_pending`: Redis list, classifier, LineScore and tally
     writes, automatic reports) on BENCH_REDIS_URL and BENCH_DATABASE_URL (see
     bench/common.py); `--no-database` skips it.

    python bench/filter_bench.py [--lines 20000] [--worker-lines 2000] [--no-database]
                                 [--baseline REV] [--no-worker] [--json]
"""
from __future__ import annotations

import argparse
import importlib
import io
import os
import random
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    database_url,
    ensure_database,
    flush_redis,
    log,
    machine,
    percentile,
    print_json,
    print_table,
    redis_url,
)

CLEAN = [
    "hi", "hey :)", "hello there, how are you?", "lol", "where are you from?",
    "I'm 25, from Essex. you?", "see you at 5", "what music do you like? I love classic rock",
    "ok bye", "haha that's so true", "do you play any games?", "I've been to Scunthorpe once",
    "my therapist says I should talk to more people", "hola, ¿qué tal? soy de Málaga",
    "ça va ? je suis à Paris cette semaine", "привет, как дела?", "nice 😂😂", "brb",
    "what do you do for a living? I work in a cocktail bar, evenings mostly",
    "the assassin in that film was great", "I'm studying for my exams, it's a lot",
    "do you have insta?", "born in 1999, so not that young anymore",
    "I think the weather here is terrible today, it has been raining since morning and "
    "I have not left the house at all, how about you?",
]
LISTED = ["fuck", "shit", "bitch", "asshole", "cunt", "puta", "merde", "scheiße", "idiot fuck",
          "kill yourself"]
CONTACTS = ["call me 555-123-4567", "add me on snap: coolguy_99", "bob at gmail dot com",
            "insta @lonely.boy", "my whatsapp is +44 7700 900123", "mail me jo.h@example.org"]
# Each line is filtered this many more times; the best of them is its cost without the
# scheduler's pauses.
REPEATS = 5
HARM = ["I'm going to stab you", "I know where you live", "what school do you go to?",
        "i want to die", "you should just die", "te voy a matar", "je sais où tu habites",
        "my school is hard", "I'm going to kill it at the interview", "I'm 14 lol",
        "how old are you?", "send nudes", "don't kill yourself studying", "ich will sterben"]
HOMOGLYPHS = {"a": "а", "e": "е", "o": "о", "c": "с", "u": "υ"}
LEET = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "$", "t": "7"}


def disguise(word: str, rng: random.Random) -> str:
    how = rng.choice(["plain", "upper", "spaced", "dotted", "zero-width", "homoglyph",
                      "leet", "stretched"])
    if how == "upper":
        return word.upper()
    if how == "spaced":
        return " ".join(word)
    if how == "dotted":
        return ".".join(word)
    if how == "zero-width":
        return "\u200b".join(word)
    if how == "homoglyph":
        return "".join(HOMOGLYPHS.get(c, c) for c in word)
    if how == "leet":
        return "".join(LEET.get(c, c) for c in word)
    if how == "stretched":
        return "".join(c * rng.choice([1, 1, 3]) for c in word)
    return word


def line_mix(count: int, seed: int = 4) -> list[tuple[str, str]]:
    """`(kind, line)` pairs, kind one of clean, harm, listed, contact."""
    rng = random.Random(seed)
    lines = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.76:
            lines.append(("clean", rng.choice(CLEAN)))
        elif roll < 0.80:
            lines.append(("harm", rng.choice(HARM)))
        elif roll < 0.92:
            word = disguise(rng.choice(LISTED), rng)
            lines.append(("listed", f"{rng.choice(['you', 'oh', 'what a'])} {word} "
                                    f"{rng.choice(['lol', 'seriously', 'go away', ''])}"))
        else:
            lines.append(("contact", rng.choice(CONTACTS)))
    return lines


def setup_django(with_database: bool) -> None:
    for name in ("REDIS_URL", "CELERY_BROKER_URL", "DATABASE_URL"):
        os.environ.pop(name, None)
    if with_database:
        os.environ["DATABASE_URL"] = database_url()
        os.environ["REDIS_URL"] = redis_url()
        os.environ["LOG_LEVEL"] = "ERROR"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
    import django

    django.setup()


def summary_us(values: list[float]) -> dict[str, float | None]:
    return {"p50_us": percentile(values, 50), "p99_us": percentile(values, 99),
            "mean_us": statistics.fmean(values) if values else None, "lines": len(values)}


def baseline_filter(revision: str, into: Path) -> Callable[[str], Any]:
    """`filter_line` as it was at `revision`: moderation/filtering from `git archive`, as the
    package `filter_baseline` (its own imports of moderation.filtering renamed)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "moderation/filtering"],
                             check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    package = into / "filter_baseline"
    (into / "moderation" / "filtering").rename(package)
    for path in package.glob("*.py"):
        path.write_text(path.read_text(encoding="utf-8").replace(
            "moderation.filtering", "filter_baseline"), encoding="utf-8")
    sys.path.insert(0, str(into))
    return importlib.import_module("filter_baseline.filters").filter_line


def _decision(result: Any) -> tuple[Any, ...]:
    return result.text, result.filtered, result.categories, result.harm


def bench_filter(count: int, harm: bool, filters: dict[str, Callable[[str], Any]]
                 ) -> dict[str, Any]:
    """Per filter (name -> filter_line), figures for all lines, ordinary and masked ones."""
    from django.conf import settings

    settings.HARM_RULES_ENABLED = harm
    lines = line_mix(count)
    for _, line in lines[:2000]:
        for filter_line in filters.values():
            filter_line(line)
    groups = ("all", "ordinary", "masked")
    timings = {name: {group: [] for group in groups} for name in filters}
    cpu = {name: {group: [] for group in groups} for name in filters}
    best = {name: {group: [] for group in groups} for name in filters}
    clock, cpu_clock = time.perf_counter_ns, time.thread_time_ns
    order = list(filters.items())
    differ = 0
    for number, (_, line) in enumerate(lines):
        decisions = set()
        # Each filter in turn, the order swapped every line: both see the same machine.
        for name, filter_line in (order if number % 2 else order[::-1]):
            # The wall clock inside the CPU clock: reading the thread's CPU time is a system
            # call (1-2 µs here), which the wall figure must not include.
            cpu_started = cpu_clock()
            started = clock()
            result = filter_line(line)
            micros = (clock() - started) / 1000
            cpu_micros = (cpu_clock() - cpu_started) / 1000
            repeats = []
            for _ in range(REPEATS):
                again = clock()
                filter_line(line)
                repeats.append((clock() - again) / 1000)
            decisions.add(_decision(result))
            for group in ("all", "masked" if result.filtered else "ordinary"):
                timings[name][group].append(micros)
                cpu[name][group].append(cpu_micros)
                best[name][group].append(min(repeats))
        differ += len(decisions) > 1
    # Wall time includes the scheduler's pauses on a busy machine; the thread's CPU time and
    # each line's best of REPEATS runs are the filter's own cost.
    figures: dict[str, Any] = {
        name: {group: {**summary_us(values), "cpu_p99_us": percentile(cpu[name][group], 99),
                       "best_p50_us": percentile(best[name][group], 50),
                       "best_p99_us": percentile(best[name][group], 99),
                       "best_mean_us": statistics.fmean(best[name][group])
                       if best[name][group] else None}
               for group, values in by_group.items()}
        for name, by_group in timings.items()}
    figures["lines_decided_differently"] = differ
    return figures


def bench_harm(count: int) -> dict[str, float | None]:
    """The harm rules alone (`filtering.harm.scan` on the folded line), each line's best of
    REPEATS runs: what they add to the filter."""
    from moderation.filtering import harm
    from moderation.filtering.filters import fold_text

    folded = [fold_text(line) for _, line in line_mix(count)]
    clock = time.perf_counter_ns
    best = []
    for line in folded:
        runs = []
        for _ in range(REPEATS):
            started = clock()
            harm.scan(line)
            runs.append((clock() - started) / 1000)
        best.append(min(runs))
    return summary_us(best)


def worker_lines(count: int, users: list[int], seed: int = 5) -> list[Any]:
    from moderation.analysis import PendingLine

    rng = random.Random(seed)
    conversations = [str(uuid.uuid4()) for _ in range(50)]
    # Without the harm phrases: each files or raises a report, whose cost is the moderators'
    # queue's (priorities of every open report of the user), not the drain's.
    texts = [text for kind, text in line_mix(count * 2, seed) if kind != "harm"][:count]
    return [PendingLine.seal(rng.choice(conversations), seq, rng.choice(users), text)
            for seq, text in enumerate(texts)]


def bench_classifier(count: int) -> dict[str, float]:
    from django.conf import settings

    from moderation.analysis import classifier_scores

    texts = [text for _, text in line_mix(count, seed=6)]
    classifier_scores(texts[:10])  # loads the model
    started = time.perf_counter()
    batch = settings.ANALYSIS_BATCH_SIZE
    for offset in range(0, len(texts), batch):
        classifier_scores(texts[offset:offset + batch])
    batched = len(texts) / (time.perf_counter() - started)
    sample = texts[: max(1, len(texts) // 4)]  # one by one is slow; a quarter is plenty
    started = time.perf_counter()
    for text in sample:
        classifier_scores([text])
    single = len(sample) / (time.perf_counter() - started)
    return {"batched": batched, "one_by_one": single}


def bench_drain(count: int) -> dict[str, float]:
    import redis
    from django.conf import settings

    from accounts.models import User
    from moderation.analysis import PENDING_KEY, drain_pending
    from moderation.models import ConversationScore, LineScore, Report

    users = [User.objects.get_or_create(username=f"bench-analysis-{n}")[0].id for n in range(20)]
    client = redis.Redis.from_url(redis_url())
    result = {}
    batch_size = settings.ANALYSIS_BATCH_SIZE
    try:
        for name, size, lines in (("batched", batch_size, count),
                                  ("one_by_one", 1, max(1, count // 4))):
            pending = worker_lines(lines, users)
            client.delete(PENDING_KEY)
            client.rpush(PENDING_KEY, *[line.encode() for line in pending])
            settings.ANALYSIS_BATCH_SIZE = size
            settings.ANALYSIS_BATCHES_PER_TASK = lines
            started = time.perf_counter()
            scored = drain_pending()
            result[name] = scored / (time.perf_counter() - started)
    finally:
        settings.ANALYSIS_BATCH_SIZE = batch_size
        LineScore.objects.filter(sender_id__in=users).delete()
        ConversationScore.objects.filter(user_id__in=users).delete()
        Report.objects.filter(reported_id__in=users, reporter=None).delete()
        client.delete(PENDING_KEY)
        client.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=20_000)
    parser.add_argument("--worker-lines", type=int, default=2_000)
    parser.add_argument("--no-database", action="store_true")
    parser.add_argument("--no-worker", action="store_true",
                        help="the inline filter only, no classifier or drain figures")
    parser.add_argument("--baseline", metavar="REV",
                        help="also time the filter as it was at this git revision")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    with_database = not args.no_database and not args.no_worker
    if with_database:
        log(f"database {database_url()}, redis {redis_url()}")
        ensure_database(database_url())
        flush_redis(redis_url())
    setup_django(with_database)
    from django.conf import settings

    from moderation.filtering.filters import filter_line

    with tempfile.TemporaryDirectory() as scratch:
        filters = {"current": filter_line}
        if args.baseline:
            filters = {"baseline": baseline_filter(args.baseline, Path(scratch)), **filters}
        filter_figures = {}
        for harm in (True, False):
            log(f"filter: {args.lines} lines, harm rules {'on' if harm else 'off'}")
            filter_figures["harm on" if harm else "harm off"] = bench_filter(
                args.lines, harm, filters)
    settings.HARM_RULES_ENABLED = True
    harm_alone = bench_harm(args.lines)
    worker: dict[str, dict[str, float]] = {}
    if not args.no_worker:
        log(f"classifier: {args.worker_lines} lines")
        worker["classifier"] = bench_classifier(args.worker_lines)
    if with_database:
        log(f"drain: {args.worker_lines} lines through Redis and the database")
        worker["drain"] = bench_drain(args.worker_lines)

    result = {"machine": machine(), "baseline": args.baseline, "filter": filter_figures,
              "harm_rules_alone": harm_alone, "worker_lines_per_second": worker,
              "batch_size": settings.ANALYSIS_BATCH_SIZE}
    if args.json:
        print_json("filter", result)
        return
    print_table(f"Inline filter, cost per line ({args.lines} lines)"
                + (f"; baseline = {args.baseline}" if args.baseline else ""),
                ["harm rules", "filter", "lines", "count", "p50 µs", "p99 µs", "mean µs",
                 "CPU p99 µs", f"best-of-{REPEATS}: p50 µs", "p99 µs", "mean µs"],
                [[harm, name, group, f["lines"], f["p50_us"], f["p99_us"], f["mean_us"],
                  f["cpu_p99_us"], f["best_p50_us"], f["best_p99_us"], f["best_mean_us"]]
                 for harm, figures in filter_figures.items()
                 for name in filters for group, f in figures[name].items()])
    if args.baseline:
        print("lines decided differently (harm on, off): "
              + ", ".join(str(figures["lines_decided_differently"])
                          for figures in filter_figures.values()))
    print_table(f"Harm rules alone, per line, best of {REPEATS} runs",
                ["lines", "p50 µs", "p99 µs", "mean µs"],
                [[harm_alone["lines"], harm_alone["p50_us"], harm_alone["p99_us"],
                  harm_alone["mean_us"]]])
    if worker:
        print_table(f"Analysis worker, lines per second (batch of "
                    f"{settings.ANALYSIS_BATCH_SIZE} vs one by one)",
                    ["stage", "batched", "one by one", "speed-up"],
                    [[stage, f["batched"], f["one_by_one"], f["batched"] / f["one_by_one"]]
                     for stage, f in worker.items()])


if __name__ == "__main__":
    main()
