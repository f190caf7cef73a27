"""The verdict on the paper's claims, cell by cell, over seeds: each paired difference's 95 % interval, its
two-sided p-value, and Holm's correction within each family of cells.

The rule, fixed before the ten-seed study ran (issue 31):

- A *cell* is one paired difference (same seed, same frozen classifier) at one condition: the clean test set, or
  one SNR (the mean over the test noises at that SNR).
- Three families of cells, each corrected on its own with Holm's step-down method at level 0.05:
  1. ``gain``: each enhancer (SFE, DFE, DCL, DSL) minus CNN-FC, at every condition;
  2. ``order``: the neighbours in the paper's ordering, DFE − SFE, DCL − DFE, DSL − DCL, at every condition;
  3. ``growth``: the robustness claim itself, each enhancer's gain over CNN-FC at an SNR minus its gain on the clean
     test set (the gain grows as the SNR falls: positive).
- The paper's direction of a cell is the sign of the paper's own difference (growth: positive); a cell where the
  paper's difference is 0.0 makes no claim.
- The words: **established** = the 95 % t interval excludes zero in the paper's direction (and "after Holm" when the
  Holm-adjusted p-value is below 0.05 too); **holds on average** = the mean has the paper's sign, the interval
  holds zero; **does not hold** = the mean has the other sign; **contradicted** = the interval excludes zero on
  the other side.
"""
from __future__ import annotations

from dataclasses import dataclass

from scipy import stats

from training.reports.paired import paired_interval
from training.reports.paper import display, paper_rate
from training.reports.results import noises_of, snrs_of, test_rates

LEVEL = 0.05
ENHANCERS = ("sfe", "dfe", "dcl", "dsl")
ORDER = (("dfe", "sfe"), ("dcl", "dfe"), ("dsl", "dcl"))


@dataclass(frozen=True)
class Cell:
    family: str
    name: str  # "DSL − CNN-FC"
    condition: object  # "clean" or an SNR
    n: int
    mean: float
    low: float
    high: float
    p: float
    paper: float | None  # the paper's difference (growth: None, its direction is positive)
    p_holm: float = float("nan")

    @property
    def direction(self) -> int:
        """+1 / -1: the sign the paper claims; 0: no claim."""
        if self.family == "growth":
            return 1
        return 0 if self.paper is None or round(self.paper, 1) == 0 else (1 if self.paper > 0 else -1)

    @property
    def word(self) -> str:
        if self.direction == 0:
            return "no claim (paper 0.0)"
        low, high = sorted((self.direction * self.low, self.direction * self.high))
        if low > 0:
            return "**established after Holm**" if self.p_holm < LEVEL else "**established** (not after Holm)"
        if high < 0:
            return "**contradicted**"
        return "holds on average" if self.direction * self.mean > 0 else "does not hold"


def _p_value(differences: list[float]) -> float:
    if len(differences) < 2:
        return float("nan")
    if len(set(differences)) == 1:
        return 0.0 if differences[0] != 0 else 1.0
    return float(stats.ttest_1samp(differences, 0.0).pvalue)


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given (NaN stays NaN)."""
    order = sorted((p, i) for i, p in enumerate(p_values) if p == p)
    adjusted = [float("nan")] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * p))
        adjusted[i] = running
    return adjusted


def _cell(family, name, condition, diffs, paper) -> Cell | None:
    if len(diffs) < 2:
        return None
    mean, low, high = paired_interval(diffs)
    return Cell(family, name, condition, len(diffs), mean, low, high, _p_value(diffs), paper)


def cells(rows) -> list[Cell]:
    """Every cell of the three families that the rows have (at least two seeds), Holm-adjusted per family."""
    noises = noises_of(rows)
    conditions = ["clean", *snrs_of(rows)]
    rates = {m: test_rates(rows, m, noises) for m in ("cnn-fc", *ENHANCERS)}
    paper = lambda m, c: paper_rate(m, None if c == "clean" else c, noises)  # noqa: E731

    def diffs(a, b, c):
        return [rates[a][k][c] - rates[b][k][c] for k in rates[a] if k in rates[b] and c in rates[a][k]
                and c in rates[b][k]]

    def paper_diff(a, b, c):
        pa, pb = paper(a, c), paper(b, c)
        return None if pa is None or pb is None else pa - pb

    found = []
    for m in ENHANCERS:
        found += [_cell("gain", f"{display(m)} − CNN-FC", c, diffs(m, "cnn-fc", c), paper_diff(m, "cnn-fc", c))
                  for c in conditions]
    for a, b in ORDER:
        found += [_cell("order", f"{display(a)} − {display(b)}", c, diffs(a, b, c), paper_diff(a, b, c))
                  for c in conditions]
    for m in ENHANCERS:
        clean = dict(zip(*_keyed(rates, m, "clean")))
        for c in conditions[1:]:
            keys, gains = _keyed(rates, m, c)
            growth = [g - clean[k] for k, g in zip(keys, gains) if k in clean]
            found.append(_cell("growth", f"{display(m)} gain at SNR − clean gain", c, growth, None))
    found = [c for c in found if c is not None]
    out = []
    for family in ("gain", "order", "growth"):
        mine = [c for c in found if c.family == family]
        out += [Cell(**{**c.__dict__, "p_holm": p}) for c, p in zip(mine, holm([c.p for c in mine]))]
    return out


def _keyed(rates, m, c):
    """(keys, gains over CNN-FC) of method ``m`` at condition ``c``, per (fold, seed)."""
    keys = [k for k in rates[m] if k in rates["cnn-fc"] and c in rates[m][k] and c in rates["cnn-fc"][k]]
    return keys, [rates[m][k][c] - rates["cnn-fc"][k][c] for k in keys]


def verdict_md(rows) -> str:
    """verdict.md: one table per family, one line per cell."""
    found = cells(rows)
    if not found:
        return "No verdict: fewer than two seeds of any pair of methods.\n"
    titles = {"gain": "Gain over CNN-FC (the paper: every enhancer above CNN-FC)",
              "order": "Neighbours in the paper's ordering (the paper: SFE < DFE < DCL < DSL)",
              "growth": "Robustness: the gain over CNN-FC at an SNR minus the clean gain (the paper: grows as the "
                        "SNR falls)"}
    text = ("Verdict cell by cell (the rule: training/reports/verdict.py). Mean paired difference in points "
            "[95 % t interval], p two-sided, p after Holm's correction within the family.\n")
    for family, title in titles.items():
        mine = [c for c in found if c.family == family]
        if not mine:
            continue
        text += (f"\n{title}\n\n| difference | condition | seeds | mean [95 % interval] | paper | p | p (Holm) "
                 "| verdict |\n|---|---|---:|---|---:|---:|---:|---|\n")
        for c in mine:
            cond = "clean" if c.condition == "clean" else f"{c.condition:g} dB"
            paper = "> 0" if c.family == "growth" else ("–" if c.paper is None else f"{c.paper:+.1f}")
            text += (f"| {c.name} | {cond} | {c.n} | {c.mean:+.2f} [{c.low:+.2f}, {c.high:+.2f}] | {paper} | "
                     f"{c.p:.3f} | {c.p_holm:.3f} | {c.word} |\n")
    return text
