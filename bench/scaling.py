"""Scaling benchmark: the same stepped load against one daphne process and against two.

The two processes share Redis (channel layer, matching, live state) and the clients are
spread over both, so that half of the pairs talk across processes. Each configuration is
stepped up to saturation (as `relay.py --max`); the figure is the ratio of the peak delivered
lines per second, two processes against one.

    python bench/scaling.py [--pairs 200] [--json]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import machine, print_json, print_table, ratio, servers  # noqa: E402
from bench.relay import add_load_arguments, measure, print_steps, settle_arguments  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_load_arguments(parser)
    args = parser.parse_args()
    args.max = True
    settle_arguments(args)
    with servers() as started:
        one = measure(started, "daphne", args, processes=1)
        two = measure(started, "daphne", args, processes=2)
    print_steps("one daphne process", one)
    print_steps("two daphne processes sharing Redis", two)
    print_table("scaling (ratio = two / one)", ["", "one", "two", "ratio"], [
        ["peak delivered lines/s", one["peak_delivered_lines_per_s"],
         two["peak_delivered_lines_per_s"],
         ratio(two["peak_delivered_lines_per_s"], one["peak_delivered_lines_per_s"])],
        ["max sustained offered lines/s", one["max_sustained_offered_lines_per_s"],
         two["max_sustained_offered_lines_per_s"],
         ratio(two["max_sustained_offered_lines_per_s"],
               one["max_sustained_offered_lines_per_s"])],
    ])
    if args.json:
        print_json("scaling", {"machine": machine(),
                               "params": {"pairs": args.pairs, "rates": args.rate_list,
                                          "duration": args.duration},
                               "one": one, "two": two})


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
