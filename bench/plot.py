"""Plot line latency (sender -> partner, p50 and p99) against offered load, as an SVG.

Reads the JSON lines that `relay.py --max --json` (or `scaling.py --json`) prints; with no
input files it runs `relay.py --max --json` itself first. No network, no plotting library.

    python bench/relay.py --max --json > /tmp/relay.jsonl
    python bench/plot.py /tmp/relay.jsonl --out docs/benchmarks-latency.svg
"""
from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PYTHON, ROOT, print_table  # noqa: E402

WIDTH, HEIGHT = 980, 440
LEFT, RIGHT, TOP, BOTTOM = 70, 410, 40, 50
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"]


def read_results(paths: list[Path]) -> list[dict[str, Any]]:
    results = []
    for path in paths:
        for line in path.read_text().splitlines():
            if line.startswith("{"):
                results.append(json.loads(line))
    return results


def series_of(results: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """(label, steps) for every measured configuration in the results."""
    out = []
    for result in results:
        suffix = f" ({result['label']})" if result.get("label") else ""
        for key in ("daphne", "bare", "one", "two"):
            run = result.get(key)
            if not run:
                continue
            name = {"bare": "bare relay", "one": "daphne x1", "two": "daphne x2"}.get(
                key, f"daphne x{run.get('processes', 1)}")
            out.append((name + ("" if key == "bare" else suffix), run["steps"]))
    return out


def svg_plot(series: list[tuple[str, list[dict[str, Any]]]], title: str) -> str:
    points = [(s["offered_lines_per_s"], s["partner_latency_ms"][q])
              for _, steps in series for s in steps for q in ("p50", "p99")
              if s["partner_latency_ms"][q]]
    x_max = max((x for x, _ in points), default=1) * 1.05
    y_low = 10 ** math.floor(math.log10(max(min((y for _, y in points), default=1), 0.01)))
    y_high = 10 ** math.ceil(math.log10(max((y for _, y in points), default=10)))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + x / x_max * plot_w

    def py(y: float) -> float:
        y = min(max(y, y_low), y_high)
        return TOP + plot_h - (math.log10(y) - math.log10(y_low)) / (
            math.log10(y_high) - math.log10(y_low)) * plot_h

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
             f'font-family="sans-serif" font-size="12">',
             f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
             f'<text x="{LEFT}" y="22" font-size="14">{escape(title)}</text>']
    decade = y_low
    while decade <= y_high * 1.001:
        y = py(decade)
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" '
                     f'stroke="#ddd"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{decade:g}</text>')
        decade *= 10
    step = 10 ** math.floor(math.log10(x_max / 2 or 1))
    while x_max / step > 8:
        step *= 2
    tick = 0.0
    while tick <= x_max:
        x = px(tick)
        parts.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{TOP + plot_h}" '
                     f'stroke="#eee"/>')
        parts.append(f'<text x="{x:.1f}" y="{TOP + plot_h + 16}" text-anchor="middle">'
                     f'{tick:g}</text>')
        tick += step
    parts.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" '
                 f'stroke="#333"/>')
    parts.append(f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 12}" text-anchor="middle">'
                 'offered load (lines/s)</text>')
    parts.append(f'<text transform="translate(18 {TOP + plot_h / 2}) rotate(-90)" '
                 'text-anchor="middle">line latency sender -&gt; partner (ms, log)</text>')
    for n, (label, steps) in enumerate(series):
        colour = COLOURS[n % len(COLOURS)]
        for q, dash in (("p99", ""), ("p50", ' stroke-dasharray="4 3"')):
            coords = [(px(s["offered_lines_per_s"]), py(s["partner_latency_ms"][q]))
                      for s in steps if s["partner_latency_ms"][q]]
            if not coords:
                continue
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" '
                         f'stroke-width="2"{dash}/>')
            parts += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}"/>'
                      for x, y in coords]
        legend_y = TOP + 10 + n * 34
        parts.append(f'<line x1="{LEFT + plot_w + 12}" y1="{legend_y}" '
                     f'x2="{LEFT + plot_w + 36}" y2="{legend_y}" stroke="{colour}" '
                     'stroke-width="2"/>')
        parts.append(f'<text x="{LEFT + plot_w + 42}" y="{legend_y + 4}">'
                     f'{escape(label)} p99</text>')
        parts.append(f'<line x1="{LEFT + plot_w + 12}" y1="{legend_y + 15}" '
                     f'x2="{LEFT + plot_w + 36}" y2="{legend_y + 15}" stroke="{colour}" '
                     'stroke-width="2" stroke-dasharray="4 3"/>')
        parts.append(f'<text x="{LEFT + plot_w + 42}" y="{legend_y + 19}">p50</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("inputs", nargs="*", type=Path, help="files of JSON lines")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks-latency.svg")
    parser.add_argument("--title", default="Line latency against offered load")
    parser.add_argument("--quick", action="store_true",
                        help="with no inputs, run a tiny relay sweep (for the smoke test)")
    args = parser.parse_args()
    if args.inputs:
        results = read_results(args.inputs)
    else:
        command = [PYTHON, str(ROOT / "bench" / "relay.py"), "--max", "--json"]
        output = subprocess.run(command + (["--quick"] if args.quick else []), check=True,
                                capture_output=True, text=True, cwd=ROOT).stdout
        results = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    series = series_of(results)
    if not series:
        sys.exit("no relay results with steps in the input")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(svg_plot(series, args.title))
    print_table(f"plotted to {args.out}", ["series", "steps", "peak delivered/s",
                                           "p99 at lowest load ms"],
                [[label, len(steps), max(s["delivered_lines_per_s"] for s in steps),
                  steps[0]["partner_latency_ms"]["p99"]] for label, steps in series])


if __name__ == "__main__":
    main()
