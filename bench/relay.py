"""Relay benchmark: N pairs of real guest users exchange lines over real sockets.

Two floors and the project, in one run, with the same load generator: the bare relay on the
`websockets` package (bench/bare_relay.py), the same relay as a raw ASGI app served by daphne
(bench/asgi_relay.py: daphne's own cost, no Django, no Channels), and daphne processes of this
project (with Redis and PostgreSQL). Every project figure is given with its ratio to both
floors:

- steady load (open loop): `--pairs` pairs (200) x `--rate` lines/s (2) for `--duration`:
  line latency sender -> partner and sender -> ack, delivered lines/s, CPU per line;
- closed-loop peak: `--peak-pairs` pairs (50), each side sending its next line as soon as the
  last one is acknowledged: the most lines a second each relay carries;
- two project processes against one on that closed loop;
- lost / duplicated / reordered lines everywhere.

    python bench/relay.py                      # all of the above, ~3 min
    python bench/relay.py --rounds 3           # the same three times: medians
    python bench/relay.py --max                # step the offered rate up to saturation
    python bench/relay.py --profile /tmp/prof  # py-spy on the project's process, per phase
    python bench/relay.py --phase peak --relays project,floor --duration 5
                                               # one phase, chosen relays: for iterating
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    PYTHON,
    ROOT,
    Server,
    Servers,
    gc_pauses,
    gc_pauses_between,
    log,
    machine,
    print_json,
    print_table,
    ratio,
    redis_cpu_probe,
    redis_url,
    servers,
    spread_sessions,
)
from bench.loadgen import run_load  # noqa: E402

MAX_RATES = [0.5, 1, 2, 3, 5, 10, 15, 20, 30, 40, 50, 60, 80, 100]


def add_load_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--rate", type=float, default=2.0,
                        help="lines a second per pair (half from each side)")
    parser.add_argument("--duration", type=float, default=None,
                        help="seconds of sending per step (default 10, 5 with --max)")
    parser.add_argument("--max", action="store_true",
                        help="step the rate per pair up until the relay saturates")
    parser.add_argument("--rates", type=str, default=None,
                        help="comma-separated rates per pair for --max")
    parser.add_argument("--line-length", type=int, default=40)
    parser.add_argument("--drain", type=float, default=None,
                        help="seconds to wait for lines still on their way after a step")
    parser.add_argument("--p99-limit-ms", type=float, default=500,
                        help="with --max, a step whose partner p99 exceeds this is saturated")
    parser.add_argument("--quick", action="store_true", help="a tiny run, for the smoke test")
    parser.add_argument("--json", action="store_true", help="also print one JSON line")


def settle_arguments(args: argparse.Namespace) -> None:
    if args.quick:
        args.pairs = min(args.pairs, 4)
        args.duration = args.duration or 1.5
        args.drain = args.drain if args.drain is not None else 3
        if args.max and not args.rates:
            args.rates = "2,10"
    args.duration = args.duration or (5.0 if args.max else 10.0)
    args.drain = args.drain if args.drain is not None else (5.0 if args.max else 10.0)
    if args.max:
        args.rate_list = [float(r) for r in args.rates.split(",")] if args.rates else MAX_RATES
    else:
        args.rate_list = [args.rate]


def profile_hook(server: Server, directory: Path | None, duration: float
                 ) -> Any:
    """Start py-spy on `server` for each step, when asked for a profile."""
    if directory is None:
        return None
    directory.mkdir(parents=True, exist_ok=True)
    py_spy = Path(PYTHON).parent / "py-spy"

    def before_step(number: int) -> None:
        out = directory / f"step{number}.txt"
        subprocess.Popen([str(py_spy), "record", "-p", str(server.process.pid), "--rate", "200",
                          "--duration", str(max(1, int(duration))), "--format", "raw",
                          "--nonblocking", "-o", str(out)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return before_step


def measure(started: Servers, kind: str, args: argparse.Namespace, processes: int = 1,
            profile: Path | None = None, pairs: int | None = None,
            closed_loop: bool = False) -> dict[str, Any]:
    """Start `processes` servers of `kind` (daphne = the project, bare, or floor), run the
    load (the open-loop steps of `args`, or one closed-loop step), stop them."""
    pairs = pairs or args.pairs
    if kind in ("bare", "floor"):
        targets_servers = [started.bare() if kind == "bare" else started.floor()]
        targets = [(targets_servers[0], None)] * (2 * pairs)
    else:
        root = args.baseline if kind == "baseline" else ROOT
        targets_servers = [started.daphne(root=root) for _ in range(processes)]
        log(f"creating {2 * pairs} guest users")
        targets = spread_sessions(targets_servers, 2 * pairs)
    probes = {f"{kind}{i}": server.cpu_seconds for i, server in enumerate(targets_servers)}
    if kind in ("daphne", "baseline"):
        probes |= redis_cpu_probe(redis_url())

    def on_step(step: dict[str, Any]) -> None:
        log(f"{kind}x{processes}: offered {step['offered_lines_per_s']:.0f}/s delivered "
            f"{step['delivered_lines_per_s']:.0f}/s partner p99 "
            f"{step['partner_latency_ms']['p99']} ms lost {step['lost']} cpu "
            f"{step['cpu_percent']} load {step['load_average_1m']}"
            f"{' SATURATED' if step['saturated'] else ''}")

    rates = [0.0] if closed_loop else args.rate_list
    profile_step = profile_hook(targets_servers[0], profile, args.duration)
    gc_before: dict[str, float] = {}

    def before_step(number: int) -> None:
        if profile_step:
            profile_step(number)
        if kind in ("daphne", "baseline") and number == 0:
            gc_before.update(gc_pauses(targets_servers[0]))
            gc_before["rss_kib"] = targets_servers[0].rss_kib()

    log(f"{kind}x{processes}: {2 * pairs} sockets, "
        + ("closed loop" if closed_loop else f"rates per pair {rates}"))
    try:
        result = asyncio.run(run_load(
            targets, rates, args.duration, drain=args.drain,
            line_length=args.line_length, stop_when_saturated=args.max and not closed_loop,
            p99_limit_ms=args.p99_limit_ms, cpu_probes=probes, on_step=on_step,
            before_step=before_step, closed_loop=closed_loop))
        if kind in ("daphne", "baseline"):
            result["gc"] = gc_pauses_between(gc_before, gc_pauses(targets_servers[0]),
                                             args.duration)
            # RSS over the step: a frozen heap must not grow (frozen garbage is never freed)
            result["gc"] |= {"rss_mib_before": round(gc_before["rss_kib"] / 1024, 1),
                             "rss_mib_after": round(targets_servers[0].rss_kib() / 1024, 1)}
    finally:
        for server in targets_servers:
            server.stop()
            started.running.remove(server)
    steps = result["steps"]
    result["peak_delivered_lines_per_s"] = max(s["delivered_lines_per_s"] for s in steps)
    unsaturated = [s for s in steps if not s["saturated"]]
    result["max_sustained_offered_lines_per_s"] = (
        max(s["offered_lines_per_s"] for s in unsaturated) if unsaturated else None)
    result["processes"] = processes
    return result


def cost_text(step: dict[str, Any]) -> str:
    return "/".join(f"{v:.3f}" for v in step.get("cpu_ms_per_line", {}).values())


def cpu_text(step: dict[str, Any]) -> str:
    return "/".join(f"{v:.0f}" for v in step["cpu_percent"].values())


def print_steps(title: str, result: dict[str, Any]) -> None:
    print_table(title, ["offered/s", "delivered/s", "partner p50", "partner p99", "ack p99",
                        "lost", "dup", "reord", "lag p99", "cpu %", "cpu ms/line",
                        "load", "saturated"],
                [[s["offered_lines_per_s"], s["delivered_lines_per_s"],
                  s["partner_latency_ms"]["p50"], s["partner_latency_ms"]["p99"],
                  s["ack_latency_ms"]["p99"], s["lost"], s["duplicated"], s["reordered"],
                  s["client_lag_ms"]["p99"], cpu_text(s), cost_text(s),
                  s.get("load_average_1m"), "yes" if s["saturated"] else ""]
                 for s in result["steps"]])


def report(args: argparse.Namespace, daphne: dict[str, Any], bare: dict[str, Any] | None,
           floor: dict[str, Any] | None) -> None:
    """The --max sweep: each relay's steps, then the peaks side by side."""
    print_steps(f"daphne x{daphne['processes']}: latency (ms) against offered load", daphne)
    for name, result in (("bare relay", bare), ("daphne floor", floor)):
        if result:
            print_steps(f"{name}: latency (ms) against offered load", result)

    def peak(result: dict[str, Any] | None, key: str) -> Any:
        return result and result[key]

    print_table("saturation", ["", "daphne", "bare", "floor", "/bare", "/floor"], [
        [label, daphne[key], peak(bare, key), peak(floor, key),
         ratio(daphne[key], peak(bare, key)), ratio(daphne[key], peak(floor, key))]
        for label, key in (("peak delivered lines/s", "peak_delivered_lines_per_s"),
                           ("max sustained offered lines/s",
                            "max_sustained_offered_lines_per_s"))])
    if args.json:
        print_json("relay", {
            "mode": "max", "machine": machine(),
            "params": {"pairs": args.pairs, "rates": args.rate_list,
                       "duration": args.duration, "line_length": args.line_length},
            "daphne": daphne, "bare": bare, "floor": floor})


# ---- the full run: steady load, closed-loop peak and two processes, against both floors

RELAYS = ("project", "bare", "floor")
KINDS = {"project": "daphne", "bare": "bare", "floor": "floor", "baseline": "baseline"}


def server_cpu_ms(step: dict[str, Any]) -> float:
    """CPU ms per delivered line of the relay's own processes (all of them), not Redis."""
    return round(sum(v for k, v in step.get("cpu_ms_per_line", {}).items() if k != "redis"), 3)


def faults(*results: dict[str, Any]) -> int:
    return sum(step[key] for result in results for step in result["steps"]
               for key in ("lost", "duplicated", "reordered", "ack_lost"))


def one_round(started: Servers, args: argparse.Namespace, profile: Path | None
              ) -> dict[str, dict[str, Any]]:
    """Every relay under steady load, then every relay (and two project processes) in a
    closed loop. Returns the raw results by phase and relay."""
    steady = {name: measure(started, KINDS[name], args,
                            profile=profile / "steady" if profile and name == "project" else None)
              for name in RELAYS}
    peak = {name: measure(started, KINDS[name], args, pairs=args.peak_pairs, closed_loop=True,
                          profile=profile / "peak" if profile and name == "project" else None)
            for name in RELAYS}
    peak["project x2"] = measure(started, "daphne", args, processes=2, pairs=args.peak_pairs,
                                 closed_loop=True)
    return {"steady": steady, "peak": peak}


def round_figures(raw: dict[str, dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """figure -> relay -> value, for one round."""
    out: dict[str, dict[str, float | None]] = {}
    for name in RELAYS:
        steady, peak = raw["steady"][name]["steps"][0], raw["peak"][name]["steps"][0]
        values = {
            "line -> partner p50 ms (steady)": steady["partner_latency_ms"]["p50"],
            "line -> partner p99 ms (steady)": steady["partner_latency_ms"]["p99"],
            "line -> ack p99 ms (steady)": steady["ack_latency_ms"]["p99"],
            "delivered lines/s (steady)": steady["delivered_lines_per_s"],
            "server CPU ms per line (steady)": server_cpu_ms(steady),
            "closed-loop peak lines/s, one process": peak["delivered_lines_per_s"],
            "closed-loop line -> partner p50 ms": peak["partner_latency_ms"]["p50"],
            "server CPU ms per line (peak)": server_cpu_ms(peak),
            "lines lost + duplicated + reordered": faults(raw["steady"][name],
                                                          raw["peak"][name]),
            "users left out: pairing ended at once": (raw["steady"][name]["unpaired"]
                                                      + raw["peak"][name]["unpaired"]),
        }
        if name == "project":
            gc_steady, gc_peak = raw["steady"][name]["gc"], raw["peak"][name]["gc"]
            values |= {
                "GC pause ms per s (steady)": gc_steady["pause_ms_per_s"],
                "GC collections per s (steady)": gc_steady["collections_per_s"],
                "gen-2 collections in the step (steady)": gc_steady["gen2_collections"],
                "longest GC pause ms, at most (steady run)": gc_steady["longest_pause_ms_le"],
                "GC pause ms per s (peak)": gc_peak["pause_ms_per_s"],
            }
        for figure, value in values.items():
            out.setdefault(figure, {})[name] = value
    two = raw["peak"]["project x2"]
    out["closed-loop peak lines/s, two processes"] = {
        "project": two["steps"][0]["delivered_lines_per_s"]}
    out["two processes / one (closed-loop peak)"] = {"project": ratio(
        two["steps"][0]["delivered_lines_per_s"],
        raw["peak"]["project"]["steps"][0]["delivered_lines_per_s"])}
    out["lines lost + duplicated + reordered"]["project"] += faults(two)
    return out


def medians(rounds: list[dict[str, dict[str, float | None]]]
            ) -> dict[str, dict[str, float | None]]:
    out: dict[str, dict[str, float | None]] = {}
    for figure, by_relay in rounds[0].items():
        for name in by_relay:
            values = [r[figure][name] for r in rounds if r[figure].get(name) is not None]
            out.setdefault(figure, {})[name] = (
                round(statistics.median(values), 3) if values else None)
    return out


def targets(figures: dict[str, dict[str, float | None]]) -> list[list[Any]]:
    """Issue 16's "done when", against this run's figures."""
    peak = figures["closed-loop peak lines/s, one process"]
    p99 = figures["line -> partner p99 ms (steady)"]
    two = figures["two processes / one (closed-loop peak)"]["project"]
    lost = figures["lines lost + duplicated + reordered"]

    def met(ok: bool | None) -> str:
        return "met" if ok else "NOT met"

    return [
        ["one process >= 5,000 lines/s", peak["project"],
         met((peak["project"] or 0) >= 5000)],
        ["... and >= 50% of the daphne floor", ratio(peak["project"], peak["floor"]),
         met((ratio(peak["project"], peak["floor"]) or 0) >= 0.5)],
        ["line p99 <= 3x the daphne floor", ratio(p99["project"], p99["floor"]),
         met((ratio(p99["project"], p99["floor"]) or 99) <= 3)],
        ["two processes >= 1.6x one", two, met((two or 0) >= 1.6)],
        ["nothing lost, duplicated, reordered", lost["project"], met(lost["project"] == 0)],
    ]


def report_full(args: argparse.Namespace, raw_rounds: list[dict[str, Any]]) -> None:
    figures = medians([round_figures(raw) for raw in raw_rounds])
    title = (f"relay: steady {args.pairs} pairs x {args.rate:g} lines/s, closed loop "
             f"{args.peak_pairs} pairs, {args.duration:g} s each"
             + (f", median of {len(raw_rounds)} rounds" if len(raw_rounds) > 1 else "")
             + " (/bare, /floor = project / that floor)")
    print_table(title, ["", "project", "bare", "floor", "/bare", "/floor"], [
        [figure, v.get("project"), v.get("bare"), v.get("floor"),
         None if figure.startswith(("lines lost", "users")) else ratio(v.get("project"),
                                                                       v.get("bare")),
         None if figure.startswith(("lines lost", "users")) else ratio(v.get("project"),
                                                                       v.get("floor"))]
        for figure, v in figures.items()])
    print_table("issue 16 targets", ["", "value", ""], targets(figures))
    if args.json:
        print_json("relay", {
            "mode": "full", "machine": machine(),
            "params": {"pairs": args.pairs, "rate": args.rate, "peak_pairs": args.peak_pairs,
                       "duration": args.duration, "line_length": args.line_length,
                       "rounds": len(raw_rounds)},
            "figures": figures, "rounds": raw_rounds})


# The GC figures of a step (bench.common.gc_pauses_between), as one_phase prints them.
GC_COLUMNS = {"pause ms/s": "pause_ms_per_s", "cpu ms/s": "pause_cpu_ms_per_s",
              "collections/s": "collections_per_s", "gen-2": "gen2_collections",
              "longest ms <=": "step_longest_pause_ms_le",
              "longest cpu ms <=": "step_longest_pause_cpu_ms_le", "frozen": "frozen_objects",
              "rss MiB start": "rss_mib_before", "rss MiB end": "rss_mib_after"}


def one_phase(started: Servers, args: argparse.Namespace, profile: Path | None) -> None:
    """Only the steady step or only the closed-loop peak, of the chosen relays (`--relays`),
    each figure also as a ratio to the daphne floor when it ran: for iterating on a change.
    With `--rounds N` the relays take turns N times and the medians are shown, so that a
    machine whose load drifts favours none of them."""
    closed = args.phase == "peak"
    names = args.relays.split(",")
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for _ in range(args.rounds):
        for name in names:
            runs[name].append(measure(
                started, KINDS[name], args, closed_loop=closed,
                pairs=args.peak_pairs if closed else args.pairs,
                processes=args.processes if KINDS[name] in ("daphne", "baseline") else 1,
                profile=profile if name == "project" and not runs[name] else None))

    def median(name: str, value: Any) -> float | None:
        values = [v for v in (value(result["steps"][0]) for result in runs[name])
                  if v is not None]
        return round(statistics.median(values), 3) if values else None

    columns = {
        "delivered/s": lambda step: step["delivered_lines_per_s"],
        "p50 ms": lambda step: step["partner_latency_ms"]["p50"],
        "p99 ms": lambda step: step["partner_latency_ms"]["p99"],
        "cpu ms/line": server_cpu_ms,
        "redis ms/line": lambda step: step.get("cpu_ms_per_line", {}).get("redis"),
    }
    figures = {name: {column: median(name, value) for column, value in columns.items()}
               for name in names}
    floor = figures.get("floor")
    rows = []
    for name, values in figures.items():
        rows.append([name, *values.values(), sum(faults(result) for result in runs[name]),
                     *(ratio(values[column], floor and floor[column])
                       for column in ("delivered/s", "p99 ms", "cpu ms/line"))])
    print_table(f"relay, {args.phase} only ({args.peak_pairs if closed else args.pairs} pairs, "
                f"{args.duration:g} s" + (f", median of {args.rounds} rounds" if args.rounds > 1
                                          else "") + ")",
                ["", *columns, "faults", "/floor lines", "/floor p99", "/floor cpu"], rows)
    gc_rows = [[name, *(statistics.median(result["gc"][key] for result in runs[name])
                        for key in GC_COLUMNS.values())]
               for name in names if runs[name] and "gc" in runs[name][0]]
    if gc_rows:
        print_table("garbage collector of the (first) process, in the step", ["", *GC_COLUMNS],
                    gc_rows)
    if args.json:
        print_json("relay", {"mode": args.phase, "machine": machine(), "figures": figures,
                             "runs": runs})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_load_arguments(parser)
    parser.add_argument("--peak-pairs", type=int, default=50,
                        help="pairs of the closed-loop peak (default 50)")
    parser.add_argument("--rounds", type=int, default=1, help="repeat the run; report medians")
    parser.add_argument("--no-bare", action="store_true",
                        help="with --max: skip the floors")
    parser.add_argument("--processes", type=int, default=1,
                        help="with --max or --phase: daphne processes (project, baseline)")
    parser.add_argument("--profile", type=Path, default=None,
                        help="directory for py-spy profiles of the (first) project process")
    parser.add_argument("--phase", choices=("steady", "peak"), default=None,
                        help="run only this phase (of the relays in --relays)")
    parser.add_argument("--relays", default="project,floor",
                        help="with --phase: which relays, of project, bare, floor, baseline")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="with --phase: a copy of the project at another commit (e.g. "
                             "`git archive <commit> | tar -x -C DIR`), run as relay `baseline`")
    args = parser.parse_args()
    settle_arguments(args)
    if args.quick:
        args.peak_pairs = min(args.peak_pairs, 4)
    with servers() as started:
        if args.phase:
            one_phase(started, args, args.profile)
            return
        if args.max:
            bare = None if args.no_bare else measure(started, "bare", args)
            floor = None if args.no_bare else measure(started, "floor", args)
            daphne = measure(started, "daphne", args, args.processes, profile=args.profile)
        else:
            raw_rounds = [one_round(started, args, args.profile) for _ in range(args.rounds)]
    if args.max:
        report(args, daphne, bare, floor)
    else:
        report_full(args, raw_rounds)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
