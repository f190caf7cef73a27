"""summary.md: each enhancer against CNN-FC, paired over the parts (seeds, folds) of a run.

For every part (fold, seed) both systems were trained on the same data with the same seed, so the
difference of their classification rates in that part is one paired observation; the summary gives the
mean difference over the parts and its 95 % confidence interval (Student t with n - 1 degrees of freedom),
for the clean test set and, at each SNR, for the mean over the noises evaluated.
"""
from __future__ import annotations

import statistics

from scipy import stats

from training.reports.paper import DISPLAY, METHODS
from training.reports.results import parts, values

CONFIDENCE = 0.95


def paired_interval(differences) -> tuple[float, float | None, float | None]:
    """(mean, low, high) of the ``CONFIDENCE`` Student-t interval of the mean; no interval for one value."""
    d = list(differences)
    mean = statistics.fmean(d)
    if len(d) < 2:
        return mean, None, None
    sem = statistics.stdev(d) / len(d) ** 0.5
    if sem == 0:
        return mean, mean, mean
    low, high = stats.t.interval(CONFIDENCE, len(d) - 1, loc=mean, scale=sem)
    return mean, float(low), float(high)


def _noise_mean(rows, method, noises, snr) -> dict:
    """(fold, seed) -> mean rate over ``noises`` at ``snr``, for the parts that have all of them."""
    per_noise = [values(rows, method, "test", n, snr) for n in noises]
    keys = set.intersection(*(set(v) for v in per_noise)) if per_noise else set()
    return {k: statistics.fmean(v[k] for v in per_noise) for k in keys}


def _cell(a: dict, b: dict) -> str:
    keys = sorted(set(a) & set(b))
    if not keys:
        return "–"
    mean, low, high = paired_interval(a[k] - b[k] for k in keys)
    if low is None:
        return f"{mean:+.2f}"
    return f"{mean:+.2f} [{low:+.2f}, {high:+.2f}]"


def summary_md(rows: list[dict], noises, snrs_db) -> str:
    """The paired comparison as a short markdown document."""
    n = len(parts(rows))
    folds, seeds = len({r["fold"] for r in rows}), len({r["seed"] for r in rows})
    over = " x ".join(filter(None, [f"{folds} test folds" if folds > 1 else "",
                                    f"{seeds} seeds" if seeds > 1 else ""])) or "1 run"
    enhancers = [m for m in METHODS[1:] if any(r["method"] == m for r in rows)]
    header = ["Enhancer - CNN-FC", "clean"] + [f"{s:g} dB" for s in snrs_db]
    lines = ["# Summary: each enhancer against CNN-FC", "",
             f"Paired over the {n} parts of the run ({over}): in each part the enhancer and CNN-FC share the "
             "data and the seed. Cells: mean difference of the classification rate in percentage points "
             f"[{100 * CONFIDENCE:g} % interval, Student t, n - 1 = {n - 1} degrees of freedom]; an interval "
             "that excludes 0 is a difference the parts show consistently. "
             f"clean: the clean test set; N dB: the mean over the {len(noises)} noises "
             f"({', '.join(noises)}) at that SNR.", ""]
    if not enhancers:
        return "\n".join(lines + ["No enhancer was trained in this run."]) + "\n"
    lines += ["| " + " | ".join(header) + " |", "| --- |" + " ---: |" * (len(header) - 1)]
    base_clean = values(rows, "cnn-fc", "test", "clean")
    base_noisy = {s: _noise_mean(rows, "cnn-fc", noises, s) for s in snrs_db}
    for m in enhancers:
        cells = [_cell(values(rows, m, "test", "clean"), base_clean)]
        cells += [_cell(_noise_mean(rows, m, noises, s), base_noisy[s]) for s in snrs_db]
        lines.append("| " + " | ".join([DISPLAY[m]] + cells) + " |")
    if n < 2:
        lines += ["", "One part only: no interval (repeat with --seeds or --protocol cv10)."]
    return "\n".join(lines) + "\n"
