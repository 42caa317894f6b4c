"""Relay benchmark: N pairs of real guest users exchange lines over real sockets.

Runs the same load first against the bare relay (bench/bare_relay.py) and then against daphne
processes of this project (with Redis and PostgreSQL), and reports each figure with its ratio
to the bare relay: find -> matched, line latency sender -> partner and sender -> ack, delivered
lines per second, lost / duplicated / reordered lines.

    python bench/relay.py                      # 200 pairs, 2 lines/s each, 10 s
    python bench/relay.py --max                # step the offered rate up to saturation
    python bench/relay.py --pairs 50 --rate 10 --duration 5 --json
    python bench/relay.py --max --profile /tmp/relay-profile   # py-spy on daphne, per step
"""
from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    PYTHON,
    Server,
    Servers,
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
            profile: Path | None = None) -> dict[str, Any]:
    """Start `processes` servers of `kind` (daphne or bare), run the load, stop them."""
    if kind == "bare":
        targets_servers = [started.bare()]
        targets = [(targets_servers[0], None)] * (2 * args.pairs)
    else:
        targets_servers = [started.daphne() for _ in range(processes)]
        log(f"creating {2 * args.pairs} guest users")
        targets = spread_sessions(targets_servers, 2 * args.pairs)
    probes = {f"{kind}{i}": server.cpu_seconds for i, server in enumerate(targets_servers)}
    if kind != "bare":
        probes |= redis_cpu_probe(redis_url())

    def on_step(step: dict[str, Any]) -> None:
        log(f"{kind}x{processes}: offered {step['offered_lines_per_s']:.0f}/s delivered "
            f"{step['delivered_lines_per_s']:.0f}/s partner p99 "
            f"{step['partner_latency_ms']['p99']} ms lost {step['lost']} cpu "
            f"{step['cpu_percent']} load {step['load_average_1m']}"
            f"{' SATURATED' if step['saturated'] else ''}")

    log(f"{kind}x{processes}: {2 * args.pairs} sockets, rates per pair {args.rate_list}")
    try:
        result = asyncio.run(run_load(
            targets, args.rate_list, args.duration, drain=args.drain,
            line_length=args.line_length, stop_when_saturated=args.max,
            p99_limit_ms=args.p99_limit_ms, cpu_probes=probes, on_step=on_step,
            before_step=profile_hook(targets_servers[0], profile, args.duration)))
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


def steady_rows(daphne: dict[str, Any], bare: dict[str, Any] | None) -> list[list[Any]]:
    d_step, b_step = daphne["steps"][0], (bare["steps"][0] if bare else None)
    rows: list[list[Any]] = []

    def add(name: str, d_value: Any, b_value: Any) -> None:
        rows.append([name, d_value, b_value, ratio(d_value, b_value)])

    for q in ("p50", "p95", "p99"):
        add(f"find -> matched {q} ms", daphne["match_ms"][q], bare and bare["match_ms"][q])
    for key, label in (("partner_latency_ms", "line -> partner"), ("ack_latency_ms",
                                                                     "line -> ack")):
        for q in ("p50", "p95", "p99", "max"):
            add(f"{label} {q} ms", d_step[key][q], b_step and b_step[key][q])
    add("offered lines/s", d_step["offered_lines_per_s"], b_step and b_step["offered_lines_per_s"])
    add("delivered lines/s", d_step["delivered_lines_per_s"],
        b_step and b_step["delivered_lines_per_s"])
    for key in ("lost", "duplicated", "reordered", "ack_lost", "closed_sockets"):
        rows.append([key, d_step[key], b_step and b_step[key], None])
    rows.append(["unexpected frames", unexpected_text(d_step),
                 b_step and unexpected_text(b_step), None])
    rows.append(["client lag p99 ms", d_step["client_lag_ms"]["p99"],
                 b_step and b_step["client_lag_ms"]["p99"], None])
    rows.append(["cpu % (server/redis/loadgen)", cpu_text(d_step), b_step and cpu_text(b_step),
                 None])
    rows.append(["cpu ms per line (server/redis)", cost_text(d_step),
                 b_step and cost_text(b_step), None])
    return rows


def unexpected_text(step: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in step["unexpected_frames"].items()) or "0"


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


def report(args: argparse.Namespace, daphne: dict[str, Any], bare: dict[str, Any] | None
           ) -> None:
    if args.max:
        print_steps(f"daphne x{daphne['processes']}: latency (ms) against offered load", daphne)
        if bare:
            print_steps("bare relay: latency (ms) against offered load", bare)
        print_table("saturation", ["", "daphne", "bare", "ratio"], [
            ["peak delivered lines/s", daphne["peak_delivered_lines_per_s"],
             bare and bare["peak_delivered_lines_per_s"],
             ratio(daphne["peak_delivered_lines_per_s"],
                   bare and bare["peak_delivered_lines_per_s"])],
            ["max sustained offered lines/s", daphne["max_sustained_offered_lines_per_s"],
             bare and bare["max_sustained_offered_lines_per_s"], None],
        ])
    else:
        print_table(f"relay: {args.pairs} pairs x {args.rate:g} lines/s, {args.duration:g} s "
                    f"(ratio = daphne / bare relay)", ["", "daphne", "bare", "ratio"],
                    steady_rows(daphne, bare))
    if args.json:
        print_json("relay", {
            "mode": "max" if args.max else "steady", "machine": machine(),
            "params": {"pairs": args.pairs, "rates": args.rate_list,
                       "duration": args.duration, "line_length": args.line_length},
            "daphne": daphne, "bare": bare})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_load_arguments(parser)
    parser.add_argument("--no-bare", action="store_true", help="skip the bare relay")
    parser.add_argument("--processes", type=int, default=1, help="daphne processes")
    parser.add_argument("--profile", type=Path, default=None,
                        help="directory for py-spy profiles of the (first) daphne, per step")
    args = parser.parse_args()
    settle_arguments(args)
    with servers() as started:
        bare = None if args.no_bare else measure(started, "bare", args)
        daphne = measure(started, "daphne", args, args.processes, profile=args.profile)
    report(args, daphne, bare)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
