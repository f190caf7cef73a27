"""The users' rows (benchmarks/users.py) timed with their contenders alternating: forward +
backward, float32 (or --dtype bfloat16), the minimum over rounds, each contender's time and its speed-up over the
grouped idiom (grouped time / its time) measured in the same rounds, so a load from other
jobs hits them alike. Prints a markdown table; --plot draws the speed-ups.

Examples (repository root):
  python -m benchmarks.time_users --rounds 5 --plot docs/assets/users.png
  python -m benchmarks.time_users --rows stylegan3-t odconv --contenders dyconv grouped
  python -m benchmarks.time_users --dtype bfloat16 --contenders dyconv grouped
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import torch

import dyconv

if __package__ in (None, ""):  # run as a file (python benchmarks/time_users.py): the repository root on sys.path
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.users import BASELINE, CONTENDERS, ROWS, contenders_for, make_pass
from training.engine.memory import allocator_in_use


def time_row(row, names, rounds, dtype=torch.float32):
    """name -> minimum seconds of forward + backward over `rounds` alternating rounds (after one warm-up)."""
    runs = {n: make_pass(row, n, CONTENDERS[n].make(row, dtype, 0)) for n in names}
    best = {n: float("inf") for n in names}
    for r in range(rounds + 1):
        for n, run in runs.items():
            t0 = time.perf_counter()
            run()
            if r:
                best[n] = min(best[n], time.perf_counter() - t0)
    return best


def table(results):
    lines = ["| row | shape | " + " | ".join(["dyconv engine", "grouped", "dyconv", "vmap", "user's own"]) + " |",
             "|---|---|---|---:|---:|---:|---:|"]
    for row, engine, best in results:
        g = best[BASELINE]

        def cell(n):
            return f"{best[n] * 1e3:.1f} ms, {g / best[n]:.2f}x" if n in best else "-"

        own = [n for n in best if n not in ("dyconv", "grouped", "vmap")]
        own_cell = "; ".join(f"{n}: {cell(n)}" for n in own) or "-"
        lines.append(f"| {row.name} | {row.label()} | {engine} | {best[BASELINE] * 1e3:.1f} ms | {cell('dyconv')} | "
                     f"{cell('vmap')} | {own_cell} |")
    return "\n".join(lines)


def plot(results, path, dtype="float32"):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in ("dyconv", "vmap", "bmm", "stylegan2-nonfused", "condconv-experts")
             if any(n in best for _, _, best in results)]  # the contenders timed: one bar slot each
    fig, ax = plt.subplots(figsize=(max(10, 0.5 * len(results)), 4.8))  # room for each row's label
    width = 0.8 / len(names)
    for k, n in enumerate(names):
        xs = [i + (k - (len(names) - 1) / 2) * width for i, (_, _, best) in enumerate(results) if n in best]
        ys = [best[BASELINE] / best[n] for _, _, best in results if n in best]
        ax.bar(xs, ys, width, label=n, color=f"C{k}")
    ax.axhline(1.0, color="k", lw=1)
    ax.axhline(1.5, color="k", lw=1, ls=":", label="target 1.5x")
    ax.set_yscale("log", base=2)
    ticks = [t for t in (0.25, 0.5, 1, 1.5, 2, 4, 8, 16, 32) if ax.get_ylim()[0] <= t <= ax.get_ylim()[1]]
    ax.set_yticks(ticks, [f"{t:g}x" for t in ticks])
    ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xticks(range(len(results)))
    ax.set_xticklabels([r.name for r, _, _ in results], rotation=40, ha="right", rotation_mode="anchor")
    ax.set_ylabel("speed-up over the grouped idiom")
    ax.set_title(f"per-sample conv, fwd+bwd {dtype}, {torch.get_num_threads()} threads (higher is better)")
    ax.grid(True, axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=8, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", nargs="+", default=[r.name for r in ROWS], choices=[r.name for r in ROWS])
    ap.add_argument("--contenders", nargs="+", default=None, choices=list(CONTENDERS),
                    help="default: each row's (grouped always)")
    ap.add_argument("--rounds", type=int, default=3, help="timed rounds after one warm-up; the minimum is shown")
    ap.add_argument("--quick", action="store_true", help="the rows' small versions")
    ap.add_argument("--plot", metavar="PNG", help="draw the speed-ups into this PNG")
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"],
                    help="dtype of every contender's inputs (default float32)")
    a = ap.parse_args(argv)
    dtype = getattr(torch, a.dtype)
    results = []
    for row in ROWS:
        if row.name not in a.rows:
            continue
        p = row.quick() if a.quick else row
        names = [n for n in contenders_for(p) if a.contenders is None or n in a.contenders or n == BASELINE]
        engine = "-"
        if "dyconv" in names:
            x_size, w_size, kw = p.engine_args()
            x_size = torch.empty(x_size, dtype=dtype, device="meta")
            engine = os.environ.get("DYCONV_CPU_ENGINE") or dyconv.cpu_engine_for(x_size, w_size, **kw)
        results.append((p, engine, time_row(p, names, a.rounds, dtype)))
        print(table(results[-1:]).splitlines()[-1], flush=True)
    print(f"\nfwd+bwd {a.dtype}, {torch.get_num_threads()} threads, {allocator_in_use()}, "
          f"min of {a.rounds} alternating rounds:\n")
    print(table(results))
    if a.plot:
        plot(results, a.plot, a.dtype)


if __name__ == "__main__":
    main()
