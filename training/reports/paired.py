"""Paired differences to a baseline over the parts (fold, seed) of results rows: the Student-t interval of their
mean, and the markdown table of them that summary.md and the summary over seeds (seeds.md) show.

In every part a method and the baseline were trained on the same data with the same seed, so the difference
of their classification rates in that part is one paired observation.
"""
from __future__ import annotations

import statistics

from scipy import stats

from training.reports.paper import display, in_order, paper_rate
from training.reports.results import noises_of, snrs_of, test_rates

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


def _cell(a: dict, b: dict, condition) -> str:
    keys = [k for k in a if k in b and condition in a[k] and condition in b[k]]
    if not keys:
        return "–"
    mean, low, high = paired_interval(a[k][condition] - b[k][condition] for k in keys)
    return f"{mean:+.2f}" if low is None else f"{mean:+.2f} [{low:+.2f}, {high:+.2f}]"


def difference_table(rows: list[dict], baseline: str, methods=None, noises=None, snrs_db=None,
                     paper: bool = False) -> str:
    """Each of ``methods`` (default: every other method of the rows) minus ``baseline``, paired over the parts both
    have: the mean difference in percentage points [``CONFIDENCE`` interval] on the clean test set and, at each SNR,
    on the mean over ``noises`` (default: the noises and SNRs of the rows). A method without such a part has no
    row. ``paper``: under each method's row the paper's difference, where the paper has both methods."""
    noises = noises_of(rows) if noises is None else noises
    conditions = ["clean", *(snrs_of(rows) if snrs_db is None else snrs_db)]
    if methods is None:
        methods = [m for m in in_order({r["method"] for r in rows}) if m != baseline]
    base = test_rates(rows, baseline, noises, snrs_db)
    head = ["difference", "pairs", *["clean test" if c == "clean" else f"{c:g} dB" for c in conditions]]
    lines = ["| " + " | ".join(head) + " |", "| --- | ---: |" + " ---: |" * len(conditions)]
    for m in methods:
        mine = test_rates(rows, m, noises, snrs_db)
        pairs = [k for k in mine if k in base]
        if not pairs:
            continue
        name = f"{display(m)} − {display(baseline)}"
        lines.append("| " + " | ".join([name, str(len(pairs))] + [_cell(mine, base, c) for c in conditions]) + " |")
        theirs = [(paper_rate(m, _snr(c), noises), paper_rate(baseline, _snr(c), noises)) for c in conditions]
        if paper and all(a is not None and b is not None for a, b in theirs):
            lines.append("| " + " | ".join([f"(paper) {name}", "–"] + [f"{a - b:+.2f}" for a, b in theirs]) + " |")
    return "\n".join(lines) + "\n"


def _snr(condition):
    return None if condition == "clean" else condition
