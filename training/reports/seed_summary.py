"""Several runs (seeds) of the same protocol summarised: accuracy as mean ± std over seeds, and each method's
paired difference to a baseline with a 95 % Student-t interval over seeds (pairs = runs of the same seed).

Input: the results.csv of each run (training.reports.results), concatenated into one set of rows whose parts are
the seeds. Clean test, and noisy test as the mean over the noises at each SNR. A method in several runs of the same
seed (e.g. CNN-FC, which every run evaluates) counts once per seed, and must have the same results in each. The differences are summary.md's table
(training.reports.paired), the figure a run's robustness.png (training.reports.robustness).
"""
from __future__ import annotations

import statistics
from pathlib import Path

from training.reports import results
from training.reports.paired import difference_table
from training.reports.paper import display, in_order, paper_rate


def collect(run_dirs, label_of=None) -> list[dict]:
    """The rows of the runs' results.csv as one list, each method's rows under its label (runs of the paper's single
    split only: a cv10 run has its own summary.md). A (label, seed) in several runs must have the same rows in each
    (ValueError otherwise: the runs did not share one classifier).

    ``label_of(run_dir, method)`` names a method of a run (default: the method itself), e.g. to tell a
    multi-condition DSL from the clean-trained one."""
    found: dict[tuple[str, int], list[dict]] = {}
    source: dict[tuple[str, int], Path] = {}
    for run in map(Path, run_dirs):
        rows = results.read_results_csv(run / "results.csv")
        if len({r["fold"] for r in rows}) > 1:
            raise ValueError(f"{run}: results of several test folds (--protocol cv10); its summary.md pairs them")
        mine: dict[tuple[str, int], list[dict]] = {}
        for r in rows:
            label = label_of(run, r["method"]) if label_of else r["method"]
            mine.setdefault((label, r["seed"]), []).append({**r, "method": label})
        for key, part in mine.items():
            if key in found and _accuracies(found[key]) != _accuracies(part):
                raise ValueError(f"{display(key[0])} of seed {key[1]} differs between {source[key]} and {run}: they "
                                 "did not share one classifier, so their differences are not paired; summarise runs "
                                 "that reused the same cached classifier")
            found[key], source[key] = part, run
    return [r for part in found.values() for r in part]


def _accuracies(rows) -> list:
    return sorted((r["split"], r["noise"], r.get("snr_db"), r["accuracy"]) for r in rows)


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

