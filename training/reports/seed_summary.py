"""Several runs (seeds) of the same protocol summarised: accuracy as mean ± std over seeds, and each enhancer's
paired difference to a baseline with a 95 % Student-t interval over seeds (pairs = runs of the same seed).

Input: the results.csv of each run (training.reports.results). Clean test, and noisy test as the mean over the noises at
each SNR. A method in several runs of the same seed (e.g. CNN-FC, which every run evaluates) counts once per seed.
"""
from __future__ import annotations

import statistics
from pathlib import Path

from training.reports import results
from training.reports.paper import DISPLAY, METHODS, TABLE1, TABLE2
from training.reports.summary import paired_interval


def collect(run_dirs, label_of=None) -> dict[str, dict[int, dict]]:
    """{method label: {seed: {"clean": %, snr: mean % over noises, ...}}} from the runs' results.csv (a run of
    several seeds gives one entry per seed; runs of the paper's single split only: a cv10 run has its own
    summary.md).

    ``label_of(run_dir, method)`` names a method of a run (default: the method itself), e.g. to tell a
    multi-condition DSL from the clean-trained one."""
    out: dict[str, dict[int, dict]] = {}
    for run in map(Path, run_dirs):
        rows = results.read_results_csv(run / "results.csv")
        if len({r["fold"] for r in rows}) > 1:
            raise ValueError(f"{run}: results of several test folds (--protocol cv10); its summary.md pairs them")
        for method, seed in dict.fromkeys((r["method"], r["seed"]) for r in rows):
            label = label_of(run, method) if label_of else method
            mine = [r for r in rows if (r["method"], r["seed"]) == (method, seed) and r["split"] == "test"]
            cell = {"clean": next(100 * r["accuracy"] for r in mine if r["noise"] == "clean")}
            for snr in sorted({r["snr_db"] for r in mine if r["snr_db"] is not None}, reverse=True):
                cell[snr] = statistics.fmean(100 * r["accuracy"] for r in mine if r["snr_db"] == snr)
            out.setdefault(label, {})[seed] = cell
    return out


def mean_std(values) -> str:
    values = list(values)
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.fmean(values):.1f} ± {statistics.stdev(values):.1f}"


def _conditions(data) -> list:
    keys = next(iter(next(iter(data.values())).values())).keys()
    return ["clean", *[k for k in keys if k != "clean"]]


def _paper(method, cond):
    base = method.split(" ")[0]
    if base not in TABLE1 or base != method:  # "<method> +noise": not in the paper
        return None
    if cond == "clean":
        return TABLE1[base][1]
    row = TABLE2.get(int(cond), {}).get(base)
    return None if row is None else statistics.fmean(row)


def _name(label):
    base, _, rest = label.partition(" ")
    return DISPLAY.get(base, base) + (f" {rest}" if rest else "")


def _order(labels):
    return sorted(labels, key=lambda m: (METHODS.index(m.split(" ")[0]) if m.split(" ")[0] in METHODS else 99, m))


def accuracy_table(data) -> str:
    conds = _conditions(data)
    head = ["method", "seeds", *[("clean test" if c == "clean" else f"{c:g} dB") for c in conds]]
    lines = ["| " + " | ".join(head) + " |", "|---|---:|" + "---:|" * len(conds)]
    for m in _order(data):
        seeds = sorted(data[m])
        lines.append("| " + " | ".join([_name(m), str(len(seeds))] +
                                       [mean_std(data[m][s][c] for s in seeds) for c in conds]) + " |")
        paper = [_paper(m, c) for c in conds]
        if any(p is not None for p in paper):
            lines.append("| " + " | ".join([f"{_name(m)} (paper)", "–"] +
                                           ["–" if p is None else f"{p:.1f}" for p in paper]) + " |")
    return "\n".join(lines) + "\n"


def difference_table(data, baseline="cnn-fc", methods=None) -> str:
    """Each other method (or those in ``methods``) minus ``baseline`` on the seeds both have: mean [95 %
    interval], and the paper's."""
    conds = _conditions(data)
    head = ["difference", "pairs", *[("clean test" if c == "clean" else f"{c:g} dB") for c in conds]]
    lines = ["| " + " | ".join(head) + " |", "|---|---:|" + "---:|" * len(conds)]
    for m in _order(data):
        if m == baseline or methods is not None and m not in methods:
            continue
        seeds = sorted(set(data[m]) & set(data[baseline]))
        if not seeds:
            continue
        cells = []
        for c in conds:
            mean, lo, hi = paired_interval(data[m][s][c] - data[baseline][s][c] for s in seeds)
            cells.append(f"{mean:+.1f}" + ("" if lo is None else f" [{lo:+.1f}, {hi:+.1f}]"))
        lines.append("| " + " | ".join([f"{_name(m)} − {_name(baseline)}", str(len(seeds))] + cells) + " |")
        pm, pb = [_paper(m, c) for c in conds], [_paper(baseline, c) for c in conds]
        if baseline in TABLE1 and all(p is not None for p in pm):
            lines.append("| " + " | ".join([f"(paper) {_name(m)} − {_name(baseline)}", "–"] +
                                           [f"{a - b:+.1f}" for a, b in zip(pm, pb)]) + " |")
    return "\n".join(lines) + "\n"


def robustness_plot(data, path) -> None:
    """Accuracy from clean down to the lowest SNR, mean over seeds with ± one std band, one line per method;
    the paper's numbers dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    conds = _conditions(data)  # clean first, then the SNRs from high to low
    xs = list(range(len(conds)))
    fig, ax = plt.subplots(figsize=(6.8, 4.4))
    for m in _order(data):
        seeds = sorted(data[m])
        series = [[data[m][s][c] for s in seeds] for c in conds]
        mean = [statistics.fmean(v) for v in series]
        sd = [statistics.stdev(v) if len(v) > 1 else 0.0 for v in series]
        line, = ax.plot(xs, mean, "o-", label=f"{_name(m)} ({len(seeds)} seed{'s' if len(seeds) > 1 else ''})")
        ax.fill_between(xs, [a - b for a, b in zip(mean, sd)], [a + b for a, b in zip(mean, sd)],
                        color=line.get_color(), alpha=0.15)
        paper = [_paper(m, c) for c in conds]
        if all(p is not None for p in paper):
            ax.plot(xs, paper, "--", color=line.get_color(), alpha=0.7, label=f"{_name(m)} (paper)")
    ax.set_xticks(xs, ["clean" if c == "clean" else f"{c:g} dB" for c in conds])
    ax.set(xlabel="test condition (noisy: mean over the 7 unseen noises)", ylabel="test accuracy (%)",
           title="Robustness to unseen noise (mean ± std over seeds; dashed: paper)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
