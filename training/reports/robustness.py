"""robustness.png: classification rate against SNR per method, Table 2 as a picture; for one run (its parts) or
several runs over seeds (their rows concatenated, training/reports/seed_summary.py).

Left, large: the mean over the noises evaluated, with the clean test set as the rightmost point; the band is
± one standard deviation over the parts (seeds, folds) of the method, or, for a method of one part, the range over
the noises; optionally the paper's numbers dashed. Right: one small panel per noise (mean over the parts).
"""
from __future__ import annotations

import math
import statistics

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from training.engine.files import atomic_write  # noqa: E402
from training.reports.paper import display, in_order, paper_rate  # noqa: E402
from training.reports.results import parts, test_rates, values  # noqa: E402

COLORS = {"cnn-fc": "#444444", "sfe": "#1f77b4", "dfe": "#ff7f0e", "dcl": "#2ca02c", "dsl": "#d62728"}
OTHER_COLORS = ("#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")  # other labels, e.g. "dsl +noise"


def _mean(xs):
    xs = list(xs)
    return statistics.fmean(xs) if xs else math.nan


def _colors(labels) -> dict[str, str]:
    others = iter(OTHER_COLORS * len(labels))
    return {m: COLORS[m] if m in COLORS else next(others) for m in labels}


def robustness_figure(rows: list[dict], noises, snrs_db, path, paper: bool = False) -> None:
    """The figure of ``rows`` (methods may be labels such as ``dsl +noise``) at ``path``. ``paper``: the paper's
    rates dashed in the large panel, for the methods it has."""
    methods = in_order({r["method"] for r in rows})
    colors = _colors(methods)
    n_parts = len(parts(rows))
    snrs = sorted(snrs_db)
    clean_x = snrs[-1] + (snrs[-1] - snrs[0]) / max(len(snrs) - 1, 1)  # one step right of the highest SNR
    xs = snrs + [clean_x]

    n_small = len(noises)
    small_cols = max(1, math.ceil(n_small / 2))
    fig = plt.figure(figsize=(5.2 + 2.4 * small_cols, 5.0), layout="constrained")
    grid = fig.add_gridspec(2, 2 + small_cols, width_ratios=[1.1, 1.1] + [1.0] * small_cols)
    main = fig.add_subplot(grid[:, :2])
    small = [fig.add_subplot(grid[i // small_cols, 2 + i % small_cols]) for i in range(n_small)]

    # per method, per part: the noise-mean rate at each SNR, then clean
    per_part = {m: [[r.get(s, math.nan) for s in snrs] + [r.get("clean", math.nan)]
                    for r in test_rates(rows, m, noises, snrs).values()] for m in methods}
    counts = {m: len(p) for m, p in per_part.items()}
    dashed = False
    for m in methods:
        color, mine = colors[m], per_part[m]
        mean = [_mean(p[i] for p in mine) for i in range(len(xs))]
        if len(mine) > 1:
            std = [statistics.stdev([p[i] for p in mine]) for i in range(len(xs))]
            low, high = [a - b for a, b in zip(mean, std)], [a + b for a, b in zip(mean, std)]
        else:
            by_noise = [[_mean(values(rows, m, "test", n, s).values()) for n in noises] for s in snrs]
            low = [min(v) for v in by_noise] + [mean[-1]]
            high = [max(v) for v in by_noise] + [mean[-1]]
        label = display(m) if len(set(counts.values())) == 1 else \
            f"{display(m)} ({counts[m]} run{'s' if counts[m] > 1 else ''})"  # methods of different numbers of runs
        main.plot(snrs, mean[:-1], "-o", color=color, label=label, markersize=4)
        main.plot([snrs[-1], clean_x], mean[-2:], ":", color=color)
        main.plot([clean_x], [mean[-1]], "s", color=color, markersize=5)
        main.fill_between(snrs, low[:-1], high[:-1], color=color, alpha=0.15, linewidth=0)
        if len(mine) > 1:
            main.errorbar([clean_x], [mean[-1]], yerr=[[mean[-1] - low[-1]], [high[-1] - mean[-1]]], color=color,
                          capsize=3, linewidth=1)
        theirs = [paper_rate(m, s, noises) for s in snrs] + [paper_rate(m)]
        if paper and None not in theirs:
            main.plot(xs, theirs, "--", color=color, alpha=0.7, linewidth=1.2, label=f"{display(m)} (paper)")
            dashed = True
        for ax, noise in zip(small, noises):
            ax.plot(snrs, [_mean(values(rows, m, "test", noise, s).values()) for s in snrs], "-o", color=color,
                    markersize=2.5, linewidth=1.2)

    if min(counts.values(), default=1) > 1:
        band = f"band: ± 1 std over the {n_parts} runs" if len(set(counts.values())) == 1 else \
            "band: ± 1 std over each method's runs"
    elif max(counts.values(), default=1) == 1:
        band = "band: range over the noises"
    else:
        band = "band: ± 1 std over each method's runs (of one run: range over the noises)"
    main.set_title(f"Mean over {len(noises)} noises; {band}" + ("; dashed: the paper" if dashed else ""),
                   fontsize=10)
    main.set_xticks(xs, [f"{s:g}" for s in snrs] + ["clean"])
    main.set_xlabel("SNR (dB)")
    main.set_ylabel("classification rate (%)")
    main.grid(alpha=0.3)
    main.legend(loc="best", fontsize=9 if len(main.get_legend_handles_labels()[1]) <= 6 else 7, framealpha=0.9)
    lows = [ax.get_ylim()[0] for ax in small]
    highs = [ax.get_ylim()[1] for ax in small]
    for i, (ax, noise) in enumerate(zip(small, noises)):
        if small:
            ax.set_ylim(min(lows), max(highs))
        ax.set_title(noise, fontsize=9)
        ax.set_xticks(snrs, [f"{s:g}" for s in snrs], fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(alpha=0.3)
        if i % small_cols:
            ax.tick_params(labelleft=False)
        if i // small_cols == 1 or i + small_cols >= n_small:
            ax.set_xlabel("SNR (dB)", fontsize=8)
    runs = f"mean of {n_parts} runs" if n_parts > 1 else "one run"
    fig.suptitle(f"Classification rate against SNR on the noisy test sets ({runs})", fontsize=11)
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=110))
    plt.close(fig)
