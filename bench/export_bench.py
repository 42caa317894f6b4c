"""Export benchmark: time and peak memory to export a kept record of N lines in each format.

A user with `--lines` lines of history (spread over `--conversations` conversations, encrypted
as the live socket stores them) is written to the benchmark database. Each format is then
exported in a fresh process, so that one format's memory does not hide another's:

- `document`: reading and decrypting the record into the section 4 document only;
- `json`, `html`, `csv`: the document and its rendering, as `/account/export/?format=` does;
- `zip`: the Celery task's whole job (document, all three renderings, zip, encryption, store).

Figures: wall time (best of `--repeat` runs), peak Python allocations (tracemalloc, a separate
run, since tracing slows the code) and the growth of the process's peak RSS over its RSS
before the export. Uses BENCH_DATABASE_URL (see bench/common.py).

    python bench/export_bench.py [--lines 10000] [--conversations 50] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    database_url,
    ensure_database,
    log,
    machine,
    print_json,
    print_table,
)

STEPS = ("document", "json", "html", "csv", "zip")
SAMPLE_LINES = ["hello there 👋", "مرحبا، كيف حالك؟", "not bad, and you?",
                "=1+1 is not a formula here", "a longer line " * 12]


def setup_django() -> None:
    for name in ("REDIS_URL", "CELERY_BROKER_URL"):
        os.environ.pop(name, None)
    os.environ["DATABASE_URL"] = database_url()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
    import django

    django.setup()


def rss_kib(field: str = "VmRSS") -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def create_record(lines: int, conversations: int) -> int:
    from accounts.models import User
    from chat.history import SeenConversation, SeenLine, write_events

    user = User.objects.create_user(username=f"bench-export-{uuid.uuid4().hex[:8]}",
                                    keeps_history=True)
    per_conversation = max(1, lines // conversations)
    written = 0
    start = datetime(2026, 1, 1, tzinfo=UTC)
    while written < lines:
        conversation_id = str(uuid.uuid4())
        began = start + timedelta(hours=written)
        count = min(per_conversation, lines - written)
        events: list[Any] = [SeenConversation(user.id, conversation_id, "text", "BenchPartner",
                                              began.isoformat())]
        events += [SeenLine(user.id, conversation_id, f"{conversation_id}.{seq}", seq % 2 == 0,
                            SAMPLE_LINES[seq % len(SAMPLE_LINES)],
                            (began + timedelta(seconds=seq)).isoformat(), False)
                   for seq in range(1, count + 1)]
        write_events(events)
        written += count
    return user.id


def run_step(step: str, user_id: int) -> int | None:
    """Do one export step; returns the size in bytes of what it produced."""
    from chat.history import export
    from chat.models import HistoryExport

    if step == "zip":
        job = export.start_export(user_id)
        export.build_export(str(job.pk))
        size = HistoryExport.objects.get(pk=job.pk).zip_size
        job.delete()
        return size
    document = export.export_document(user_id)
    if step == "document":
        return None
    return len(export.RENDERERS[step](document).encode())


def measure_one(step: str, user_id: int, repeat: int) -> dict[str, Any]:
    """Run in a child process: time, then tracemalloc peak, then peak RSS growth."""
    setup_django()
    from django.db import connection

    connection.ensure_connection()
    rss_before = rss_kib()
    times = []
    size = 0
    for _ in range(repeat):
        began = time.perf_counter()
        size = run_step(step, user_id)
        times.append(time.perf_counter() - began)
    rss_peak = rss_kib("VmHWM")
    tracemalloc.start()
    run_step(step, user_id)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"step": step, "seconds": round(min(times), 3), "output_bytes": size,
            "tracemalloc_peak_mib": round(traced_peak / 2**20, 1),
            "rss_before_mib": round(rss_before / 1024, 1),
            "rss_peak_growth_mib": round((rss_peak - rss_before) / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="also print one JSON line")
    parser.add_argument("--quick", action="store_true", help="a tiny run, for the smoke test")
    parser.add_argument("--child", nargs=2, metavar=("STEP", "USER_ID"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure_one(args.child[0], int(args.child[1]), args.repeat)))
        return
    if args.quick:
        args.lines, args.conversations, args.repeat = min(args.lines, 200), 4, 1
    ensure_database(database_url())
    setup_django()
    from accounts.models import User

    log(f"writing a record of {args.lines} lines in {args.conversations} conversations")
    began = time.perf_counter()
    user_id = create_record(args.lines, args.conversations)
    write_seconds = time.perf_counter() - began
    results = []
    try:
        for step in STEPS:
            log(f"exporting: {step}")
            child = subprocess.run(
                [sys.executable, __file__, "--repeat", str(args.repeat),
                 "--child", step, str(user_id)],
                cwd=ROOT, capture_output=True, text=True, timeout=600, check=True)
            results.append(json.loads(child.stdout.strip().splitlines()[-1]))
    finally:
        User.objects.filter(pk=user_id).delete()
    print_table(
        f"export of {args.lines:,} lines in {args.conversations} conversations "
        f"(storing them took {write_seconds:.2f} s)",
        ["step", "seconds", "output bytes", "tracemalloc peak MiB", "RSS before MiB",
         "RSS peak growth MiB"],
        [[r["step"], r["seconds"], r["output_bytes"], r["tracemalloc_peak_mib"],
          r["rss_before_mib"], r["rss_peak_growth_mib"]] for r in results])
    if args.json:
        print_json("export", {"machine": machine(), "lines": args.lines,
                              "conversations": args.conversations,
                              "store_seconds": round(write_seconds, 3), "steps": results})


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
