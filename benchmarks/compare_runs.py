"""Before and after: dyconv's rows in two saved runs of the benchmark suite, side by side.

    pytest benchmarks/ --benchmark-only --benchmark-json=before.json    # on the old commit
    pytest benchmarks/ --benchmark-only --benchmark-json=after.json     # on the new one, same machine
    python benchmarks/compare_runs.py before.json after.json --labels 59c2bb1 main

For every row both runs hold (paper layers and passes, sweep points, users' rows), in each run: dyconv's time
(minimum over the rounds) and its speed-up over the baseline measured in the same run (the grouped-conv
reference; the grouped idiom for the users' rows). The last columns compare the runs: the speed-up's ratio
(after / before: above 1 is faster against the same baseline, the measure that holds when the machine's speed
moves between runs) and the time's ratio (before / after). Rows whose speed-up fell by more than --slower are
listed at the end.
"""
from __future__ import annotations

import argparse
import statistics
import sys

if __package__ in (None, ""):  # run as a file: the repository root on sys.path
    import os
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.report import ReportError, _fmt_time, load


def rows_of(path):
    """{row name: (dyconv time, baseline time)} of one run."""
    by = {}
    for r in load(path)[1]:
        if r["kind"] == "layer":
            name, base = f"{r['layer']} B{r['B']} {r['pass_name']}", "reference"
        elif r["kind"] == "sweep":
            name, base = f"sweep {r['axis']}={r['value']}", "reference"
        elif r["kind"] == "users":
            name, base = f"users {r['row']} ({r['label']})", "grouped"
        else:
            continue
        if r["device"] != "cpu":
            name = f"{r['device']} {name}"
        by.setdefault(name, {})[r["contender"]] = r["time"]
        by[name]["_base"] = base
    return {n: (c["dyconv"], c[c["_base"]]) for n, c in by.items() if "dyconv" in c and c["_base"] in c}


def compare(before, after, labels, slower):
    a, b = rows_of(before), rows_of(after)
    common = [n for n in a if n in b]
    if not common:
        raise ReportError(f"{before} and {after} have no dyconv row in common")
    lines = [f"| row | {labels[0]}: dyconv | speed-up | {labels[1]}: dyconv | speed-up | speed-up ratio | "
             f"time ratio |", "|---|---:|---:|---:|---:|---:|---:|"]
    fell = []
    for n in common:
        (ta, ra), (tb, rb) = a[n], b[n]
        su_a, su_b = ra / ta, rb / tb
        lines.append(f"| {n} | {_fmt_time(ta)} | {su_a:.2f}x | {_fmt_time(tb)} | {su_b:.2f}x | "
                     f"{su_b / su_a:.2f} | {ta / tb:.2f} |")
        if su_b / su_a < 1 - slower:
            fell.append(f"{n}: {su_a:.2f}x -> {su_b:.2f}x")
    ratios = sorted(b[n][1] / b[n][0] / (a[n][1] / a[n][0]) for n in common)
    lines.append(f"\n{len(common)} rows in both runs; speed-up ratio {labels[1]} / {labels[0]}: "
                 f"median {statistics.median(ratios):.2f}, range {ratios[0]:.2f}-{ratios[-1]:.2f}.")
    only = sorted(set(a) ^ set(b))
    if only:
        lines.append(f"In one run only (not compared): {', '.join(only)}.")
    lines.append(f"Speed-up fell by more than {slower:.0%}: " + ("; ".join(fell) if fell else "none") + ".")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("before", help="pytest-benchmark JSON of the earlier run")
    p.add_argument("after", help="pytest-benchmark JSON of the later run")
    p.add_argument("--labels", nargs=2, default=("before", "after"), metavar=("BEFORE", "AFTER"),
                   help="column names of the two runs (e.g. their commits)")
    p.add_argument("--slower", type=float, default=0.05,
                   help="list rows whose speed-up fell by more than this fraction (default 0.05)")
    args = p.parse_args(argv)
    try:
        print(compare(args.before, args.after, args.labels, args.slower))
    except ReportError as e:
        p.exit(2, f"compare_runs.py: error: {e}\n")


if __name__ == "__main__":
    main()
