"""Several runs (seeds) of the same protocol summarised: accuracy as mean ± std over seeds, and each method's
paired difference to a baseline with a 95 % Student-t interval over seeds (pairs = runs of the same seed).

Input: the results.csv of each run (training.reports.results), concatenated into one set of rows whose parts are
the seeds. Clean test, and noisy test as the mean over the noises at each SNR. A method in several runs of the same
seed (e.g. CNN-FC, which every run evaluates) counts once per seed. The differences are summary.md's table
(training.reports.paired).
"""
from __future__ import annotations

import statistics
from pathlib import Path

from training.reports import results
from training.reports.paired import difference_table
from training.reports.paper import display, in_order, paper_rate


def collect(run_dirs, label_of=None) -> list[dict]:
    """The rows of the runs' results.csv as one list, each method's rows under its label (runs of the paper's single
    split only: a cv10 run has its own summary.md). A (label, seed) in several runs: the last run's rows.

    ``label_of(run_dir, method)`` names a method of a run (default: the method itself), e.g. to tell a
    multi-condition DSL from the clean-trained one."""
    found: dict[tuple[str, int], list[dict]] = {}
    for run in map(Path, run_dirs):
        rows = results.read_results_csv(run / "results.csv")
        if len({r["fold"] for r in rows}) > 1:
            raise ValueError(f"{run}: results of several test folds (--protocol cv10); its summary.md pairs them")
        mine: dict[tuple[str, int], list[dict]] = {}
        for r in rows:
            label = label_of(run, r["method"]) if label_of else r["method"]
            mine.setdefault((label, r["seed"]), []).append({**r, "method": label})
        found.update(mine)
    return [r for part in found.values() for r in part]


def mean_std(values) -> str:
    values = list(values)
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.fmean(values):.1f} ± {statistics.stdev(values):.1f}"


def accuracy_table(rows) -> str:
    """Per method label: the test accuracy as mean ± std over its seeds, and the paper's where it has the method."""
    noises = results.noises_of(rows)
    conds = ["clean", *results.snrs_of(rows)]
    head = ["method", "seeds", *[("clean test" if c == "clean" else f"{c:g} dB") for c in conds]]
    lines = ["| " + " | ".join(head) + " |", "|---|---:|" + "---:|" * len(conds)]
    for m in in_order({r["method"] for r in rows}):
        rates = results.test_rates(rows, m, noises).values()
        lines.append("| " + " | ".join([display(m), str(len(rates))] +
                                       [mean_std(r[c] for r in rates if c in r) for c in conds]) + " |")
        paper = [paper_rate(m, None if c == "clean" else c, noises) for c in conds]
        if any(p is not None for p in paper):
            lines.append("| " + " | ".join([f"{display(m)} (paper)", "–"] +
                                           ["–" if p is None else f"{p:.1f}" for p in paper]) + " |")
    return "\n".join(lines) + "\n"


def seeds_md(rows) -> str:
    """seeds.md: the accuracy table, the paired differences to CNN-FC, and of each multi-condition label
    ("<method> +noise") to the clean-trained method where both are present."""
    labels = {r["method"] for r in rows}
    text = ("Test accuracy (%), mean ± std over seeds; noisy columns: mean over the noises at that SNR\n\n"
            + accuracy_table(rows)
            + "\nPaired difference to CNN-FC (points): mean over seeds [95 % Student-t interval]\n\n"
            + difference_table(rows, "cnn-fc", paper=True))
    for label in [m for m in in_order(labels) if m.endswith(" +noise") and m.split(" ")[0] in labels]:
        text += (f"\nPaired difference of multi-condition training to the clean-trained {label.split(' ')[0]}\n\n"
                 + difference_table(rows, label.split(" ")[0], [label], paper=True))
    return text


def robustness_plot(rows, path) -> None:
    """Accuracy from clean down to the lowest SNR, mean over seeds with ± one std band, one line per method;
    the paper's numbers dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    noises = results.noises_of(rows)
    conds = ["clean", *results.snrs_of(rows)]  # clean first, then the SNRs from high to low
    xs = list(range(len(conds)))
    fig, ax = plt.subplots(figsize=(6.8, 4.4))
    for m in in_order({r["method"] for r in rows}):
        rates = list(results.test_rates(rows, m, noises).values())
        series = [[r[c] for r in rates] for c in conds]
        mean = [statistics.fmean(v) for v in series]
        sd = [statistics.stdev(v) if len(v) > 1 else 0.0 for v in series]
        line, = ax.plot(xs, mean, "o-", label=f"{display(m)} ({len(rates)} seed{'s' if len(rates) > 1 else ''})")
        ax.fill_between(xs, [a - b for a, b in zip(mean, sd)], [a + b for a, b in zip(mean, sd)],
                        color=line.get_color(), alpha=0.15)
        paper = [paper_rate(m, None if c == "clean" else c, noises) for c in conds]
        if all(p is not None for p in paper):
            ax.plot(xs, paper, "--", color=line.get_color(), alpha=0.7, label=f"{display(m)} (paper)")
    ax.set_xticks(xs, ["clean" if c == "clean" else f"{c:g} dB" for c in conds])
    ax.set(xlabel="test condition (noisy: mean over the 7 unseen noises)", ylabel="test accuracy (%)",
           title="Robustness to unseen noise (mean ± std over seeds; dashed: paper)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
