"""results.csv, and Table 1 / Table 2 in the paper's layouts with the paper's numbers alongside."""
from __future__ import annotations

import csv
import io

from training.paper import DISPLAY, METHODS, NOISE_DISPLAY, TABLE1, TABLE2

CSV_FIELDS = ("method", "split", "noise", "snr_db", "accuracy", "n")


def results_csv(rows: list[dict]) -> str:
    """One line per (method, split, noise, snr_db); accuracy as a fraction, snr_db empty for clean sets."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({**r, "snr_db": "" if r["snr_db"] is None else f"{r['snr_db']:g}",
                         "accuracy": f"{r['accuracy']:.6f}"})
    return out.getvalue()


def read_results_csv(path) -> list[dict]:
    with open(path, newline="") as f:
        return [{**r, "snr_db": float(r["snr_db"]) if r["snr_db"] else None,
                 "accuracy": float(r["accuracy"]), "n": int(r["n"])} for r in csv.DictReader(f)]


def _methods(rows) -> list[str]:
    present = {r["method"] for r in rows}
    return [m for m in METHODS if m in present]


def _rate(rows, method, split, noise, snr=None) -> float | None:
    for r in rows:
        if (r["method"], r["split"], r["noise"]) == (method, split, noise) and (
                snr is None or (r["snr_db"] is not None and float(r["snr_db"]) == float(snr))):
            return 100 * r["accuracy"]
    return None


def _cell(value) -> str:
    return "–" if value is None else f"{value:.2f}"


def _row(cells) -> str:
    return "| " + " | ".join(cells) + " |"


def table1(rows: list[dict]) -> str:
    """Dev / Test / Difference (= |Dev - Test|) per method, this run's rates then the paper's."""
    methods = _methods(rows)
    header = [""] + [DISPLAY[m] for m in methods] + [f"{DISPLAY[m]} (paper)" for m in methods]
    lines = ["Table 1: classification rate (%) on the clean dev (fold 9) and test (fold 10) sets; "
             "Difference = |Dev - Test|. Left: this run; right: the paper.", "",
             _row(header), _row(["---"] + ["---:"] * (len(header) - 1))]
    dev = [_rate(rows, m, "dev", "clean") for m in methods]
    test = [_rate(rows, m, "test", "clean") for m in methods]
    diff = [None if a is None or b is None else abs(a - b) for a, b in zip(dev, test)]
    for i, (label, ours) in enumerate((("Dev", dev), ("Test", test), ("Difference", diff))):
        lines.append(_row([label] + [_cell(v) for v in ours] + [_cell(TABLE1[m][i]) for m in methods]))
    return "\n".join(lines) + "\n"


def table2(rows: list[dict], noise_types, snrs_db) -> str:
    """SNR x method rows, noise columns: this run's rates on the noisy test set, then the paper's."""
    methods = _methods(rows)
    names = [NOISE_DISPLAY.get(n, n) for n in noise_types]
    header = ["SNR (dB)", "Method"] + names + [f"{n} (paper)" for n in names]
    lines = ["Table 2: classification rate (%) on the test set (fold 10) mixed with unseen noise. "
             "Left: this run; right: the paper.", "",
             _row(header), _row(["---:", "---"] + ["---:"] * (len(header) - 2))]
    for snr in snrs_db:
        for m in methods:
            ours = [_rate(rows, m, "test", n, snr) for n in noise_types]
            paper_row = TABLE2.get(snr, {}).get(m)
            paper = [None if paper_row is None or n not in NOISE_DISPLAY else
                     paper_row[list(NOISE_DISPLAY).index(n)] for n in noise_types]
            lines.append(_row([f"{snr:g}", DISPLAY[m]] + [_cell(v) for v in ours] + [_cell(v) for v in paper]))
    return "\n".join(lines) + "\n"
