"""results.csv, and Table 1 / Table 2 in the paper's layouts with the paper's numbers alongside.

A run of several parts (folds and/or seeds, training/plan.py) has one row per part in results.csv; a table
cell then shows the mean ± sample standard deviation over the parts.
"""
from __future__ import annotations

import csv
import io
import statistics
from pathlib import Path

from training.reports.paper import DISPLAY, METHODS, TABLE1, TABLE2, paper_column, paper_name

CSV_FIELDS = ("fold", "seed", "method", "split", "noise", "snr_db", "accuracy", "n")


def results_csv(rows: list[dict]) -> str:
    """One line per (fold, seed, method, split, noise, snr_db); accuracy a fraction, snr_db empty when clean."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({**r, "snr_db": "" if r["snr_db"] is None else f"{r['snr_db']:g}",
                         "accuracy": f"{r['accuracy']:.6f}"})
    return out.getvalue()


def read_results_csv(path) -> list[dict]:
    with open(path, newline="") as f:
        return [{**r, "fold": int(r["fold"]), "seed": int(r["seed"]),
                 "snr_db": float(r["snr_db"]) if r["snr_db"] else None,
                 "accuracy": float(r["accuracy"]), "n": int(r["n"])} for r in csv.DictReader(f)]


def dict_csv(rows: list[dict]) -> str:
    """Rows of dicts with the same keys as CSV (the keys of the first row are the header)."""
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return out.getvalue()


def concatenate_csv(paths, path) -> None:
    """The CSV files in ``paths`` that exist (same header) as one file at ``path``."""
    from training.engine.files import atomic_write

    def write(f):
        header = None
        for p in map(Path, paths):
            if not p.exists():
                continue
            with open(p, "rb") as part:
                first = part.readline()
                if header is None:
                    header = first
                    f.write(first)
                elif first != header:
                    raise ValueError(f"{p}: its columns differ from the other parts' ({first!r} vs {header!r})")
                for line in part:
                    f.write(line)
    atomic_write(path, write)


def parts(rows) -> list[tuple[int, int]]:
    """The (fold, seed) parts of the rows, sorted."""
    return sorted({(r["fold"], r["seed"]) for r in rows})


def scope(rows) -> str:
    """Which folds and seeds the rows cover, for the captions."""
    folds = sorted({r["fold"] for r in rows})
    seeds = sorted({r["seed"] for r in rows})
    if folds == [10]:
        where = "the clean dev (fold 9) and test (fold 10) sets"
    elif len(folds) == 1:
        where = f"the clean dev and test (fold {folds[0]}) sets"
    else:
        where = (f"the clean dev and test sets of {len(folds)}-fold cross-validation (test folds "
                 f"{', '.join(map(str, folds))}; dev = the fold before)")
    if len(folds) * len(seeds) == 1:
        return where
    over = " x ".join(filter(None, [f"{len(folds)} folds" if len(folds) > 1 else "",
                                    f"{len(seeds)} seeds" if len(seeds) > 1 else ""]))
    return f"{where}; mean ± std over {over}"


def _methods(rows) -> list[str]:
    present = {r["method"] for r in rows}
    return [m for m in METHODS if m in present]


def values(rows, method, split, noise, snr=None) -> dict[tuple[int, int], float]:
    """(fold, seed) -> classification rate (%) of ``method`` on one condition."""
    out = {}
    for r in rows:
        if (r["method"], r["split"], r["noise"]) == (method, split, noise) and (
                snr is None or (r["snr_db"] is not None and float(r["snr_db"]) == float(snr))):
            out[(r["fold"], r["seed"])] = 100 * r["accuracy"]
    return out


def noises_of(rows) -> tuple[str, ...]:
    """The noises of the rows, in their order."""
    return tuple(dict.fromkeys(r["noise"] for r in rows if r["noise"] != "clean"))


def snrs_of(rows) -> list[float]:
    """The SNRs (dB) of the rows, from the highest down."""
    return sorted({r["snr_db"] for r in rows if r["snr_db"] is not None}, reverse=True)


def test_rates(rows, method, noises=None, snrs_db=None) -> dict[tuple[int, int], dict]:
    """(fold, seed) -> {"clean": rate (%) on the clean test set, snr: mean rate over ``noises`` at that SNR, ...}
    of ``method``, per part; a part lacks a condition it has no rows of (at an SNR: rows of all the noises).
    Default: the noises and SNRs of the rows."""
    noises = noises_of(rows) if noises is None else noises
    out: dict[tuple[int, int], dict] = {}
    for key, rate in values(rows, method, "test", "clean").items():
        out.setdefault(key, {})["clean"] = rate
    for snr in (snrs_of(rows) if snrs_db is None else snrs_db):
        per_noise = [values(rows, method, "test", n, snr) for n in noises]
        for key in set.intersection(*(set(v) for v in per_noise)) if per_noise else ():
            out.setdefault(key, {})[snr] = statistics.fmean(v[key] for v in per_noise)
    return dict(sorted(out.items()))


def _stat(values) -> tuple[float, float | None] | None:
    """(mean, sample std or None for one value), or None for no values."""
    values = list(values)
    if not values:
        return None
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else None)


def _cell(stat) -> str:
    if stat is None:
        return "–"
    if isinstance(stat, (int, float)):
        return f"{stat:.2f}"
    mean, std = stat
    return f"{mean:.2f}" if std is None else f"{mean:.2f} ± {std:.2f}"


def _row(cells) -> str:
    return "| " + " | ".join(cells) + " |"


def table1(rows: list[dict]) -> str:
    """Dev / Test / Difference (= |Dev - Test| per part) per method, this run's rates then the paper's."""
    methods = _methods(rows)
    header = [""] + [DISPLAY[m] for m in methods] + [f"{DISPLAY[m]} (paper)" for m in methods]
    lines = [f"Table 1: classification rate (%) on {scope(rows)}; Difference = |Dev - Test|. "
             "Left: this run; right: the paper.", "",
             _row(header), _row(["---"] + ["---:"] * (len(header) - 1))]
    dev = [values(rows, m, "dev", "clean") for m in methods]
    test = [values(rows, m, "test", "clean") for m in methods]
    diff = [{k: abs(a[k] - b[k]) for k in a if k in b} for a, b in zip(dev, test)]
    for i, (label, ours) in enumerate((("Dev", dev), ("Test", test), ("Difference", diff))):
        lines.append(_row([label] + [_cell(_stat(v.values())) for v in ours] +
                          [_cell(TABLE1[m][i]) for m in methods]))
    return "\n".join(lines) + "\n"


def table2(rows: list[dict], noise_types, snrs_db) -> str:
    """SNR x method rows, noise columns: this run's rates on the noisy test set, then the paper's (for the noises
    that are the paper's)."""
    methods = _methods(rows)
    in_paper = [n for n in noise_types if paper_column(n) is not None]
    # Noises by their names as the run knows them (file stems), the paper's columns by its names, lower-cased alike.
    header = ["SNR (dB)", "Method"] + list(noise_types) + [f"{paper_name(n).lower()} (paper)" for n in in_paper]
    test = "the test set (fold 10)" if {r["fold"] for r in rows} <= {10} else "the test folds"
    where = scope(rows).split("; ", 1)
    if not in_paper:
        paper_text = "No columns of the paper: none of these noises is one of its seven."
    elif len(in_paper) < len(noise_types):
        paper_text = "Left: this run; right: the paper, for its noises."
    else:
        paper_text = "Left: this run; right: the paper."
    lines = [f"Table 2: classification rate (%) on {test} mixed with unseen noise"
             f"{'; ' + where[1] if len(where) > 1 else ''}. {paper_text}", "",
             _row(header), _row(["---:", "---"] + ["---:"] * (len(header) - 2))]
    for snr in snrs_db:
        for m in methods:
            ours = [_stat(values(rows, m, "test", n, snr).values()) for n in noise_types]
            paper_row = TABLE2.get(snr, {}).get(m)
            paper = [None if paper_row is None else paper_row[paper_column(n)] for n in in_paper]
            lines.append(_row([f"{snr:g}", DISPLAY[m]] + [_cell(v) for v in ours] + [_cell(v) for v in paper]))
    return "\n".join(lines) + "\n"
