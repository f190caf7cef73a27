"""summary.md: each enhancer against CNN-FC, paired over the parts (seeds, folds) of a run.

For every part (fold, seed) both systems were trained on the same data with the same seed, so the
difference of their classification rates in that part is one paired observation; the summary gives the
mean difference over the parts and its 95 % confidence interval (Student t with n - 1 degrees of freedom),
for the clean test set and, at each SNR, for the mean over the noises evaluated (training/reports/paired.py).
"""
from __future__ import annotations

from training.reports.paired import CONFIDENCE, difference_table
from training.reports.paper import METHODS
from training.reports.results import parts


def summary_md(rows: list[dict], noises, snrs_db) -> str:
    """The paired comparison as a short markdown document."""
    n = len(parts(rows))
    folds, seeds = len({r["fold"] for r in rows}), len({r["seed"] for r in rows})
    over = " x ".join(filter(None, [f"{folds} test folds" if folds > 1 else "",
                                    f"{seeds} seeds" if seeds > 1 else ""])) or "1 run"
    enhancers = [m for m in METHODS[1:] if any(r["method"] == m for r in rows)]
    lines = ["# Summary: each enhancer against CNN-FC", "",
             f"Paired over the {n} parts of the run ({over}): in each part the enhancer and CNN-FC share the "
             "data and the seed. Cells: mean difference of the classification rate in percentage points "
             f"[{100 * CONFIDENCE:g} % interval, Student t, n - 1 = {n - 1} degrees of freedom]; an interval "
             "that excludes 0 is a difference the parts show consistently. pairs: the parts of the interval. "
             f"clean test: the clean test set; N dB: the mean over the {len(noises)} noises "
             f"({', '.join(noises)}) at that SNR.", ""]
    if not enhancers:
        return "\n".join(lines + ["No enhancer was trained in this run."]) + "\n"
    lines.append(difference_table(rows, "cnn-fc", enhancers, noises, snrs_db).rstrip("\n"))
    if n < 2:
        lines += ["", "One part only: no interval (repeat with --seeds or --protocol cv10)."]
    return "\n".join(lines) + "\n"
