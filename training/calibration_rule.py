"""The calibration rule of the data readings (issue 21, docs/readings.md): how far a reading's CNN-FC noise
profile on dev is from the paper's, and which reading is closest.

The paper publishes one noise profile without any of our modelling choices in between: CNN-FC's accuracy drop
from clean, mean over its seven noises (Table 2 against Table 1). A reading's profile is measured on the dev fold
mixed with the built-in *training* noises (never the test fold, never a test noise).
"""
from __future__ import annotations

import math
import statistics

PAPER_CNN_FC_DROP = {20: 0.3, 15: 0.5, 10: 2.0, 5: 4.7, 0: 10.0}
"""Points: paper Table 1 CNN-FC clean (73.84) minus Table 2's mean over the seven noises at each SNR."""


def drops(rows: list[dict]) -> dict[float, float]:
    """{SNR: clean accuracy - mean accuracy over the noises at that SNR, in points} of one classifier's rows
    (dicts with ``noise`` ("clean" or a name), ``snr_db`` (None for clean) and ``accuracy`` (a fraction))."""
    clean = [r["accuracy"] for r in rows if r["noise"] == "clean"]
    if len(clean) != 1:
        raise ValueError(f"rows: expected one clean row, got {len(clean)}")
    by_snr: dict[float, list[float]] = {}
    for r in rows:
        if r["noise"] != "clean":
            by_snr.setdefault(float(r["snr_db"]), []).append(r["accuracy"])
    return {snr: 100 * (clean[0] - statistics.fmean(accs)) for snr, accs in by_snr.items()}


def distance(drop: dict[float, float], paper: dict = PAPER_CNN_FC_DROP) -> float:
    """Root mean square over the paper's SNRs of (our drop - the paper's drop), in points."""
    missing = [s for s in paper if float(s) not in drop]
    if missing:
        raise ValueError(f"drop: no value at {', '.join(f'{s:g} dB' for s in missing)}")
    return math.sqrt(statistics.fmean((drop[float(s)] - d) ** 2 for s, d in paper.items()))


def summarize(per_seed: dict[str, list[dict[float, float]]]) -> list[dict]:
    """One entry per reading, closest first: the drop per SNR (mean and sample std over the seeds), the distance
    of the mean profile (the rule's number) and the per-seed distances. ``per_seed``: reading -> [drops of each
    seed]."""
    out = []
    for reading, seeds in per_seed.items():
        snrs = sorted(PAPER_CNN_FC_DROP, reverse=True)
        mean = {float(s): statistics.fmean(d[float(s)] for d in seeds) for s in snrs}
        std = {float(s): statistics.stdev(d[float(s)] for d in seeds) if len(seeds) > 1 else 0.0 for s in snrs}
        out.append({"reading": reading, "seeds": len(seeds), "drop_mean": mean, "drop_std": std,
                    "distance": distance(mean), "seed_distances": [distance(d) for d in seeds]})
    return sorted(out, key=lambda e: e["distance"])


def table(summary: list[dict], clean: dict[str, list[float]]) -> str:
    """Markdown: per reading the clean dev accuracy, the drop per SNR (mean ± std over seeds), the distance of the
    mean profile and the range of the per-seed distances; the paper's row first."""
    snrs = sorted(PAPER_CNN_FC_DROP, reverse=True)
    head = ("| reading | seeds | clean dev % | " + " | ".join(f"drop {s} dB" for s in snrs) +
            " | distance | per-seed distance |")
    lines = [head, "|---|---:|---:|" + "---:|" * len(snrs) + "---:|---|",
             "| paper CNN-FC (Table 2 vs 1) | – | 73.8 | " + " | ".join(f"{PAPER_CNN_FC_DROP[s]:.1f}" for s in snrs)
             + " | 0 | – |"]
    for e in summary:
        acc = clean[e["reading"]]
        sd = statistics.stdev(acc) if len(acc) > 1 else 0.0
        cells = " | ".join(f"{e['drop_mean'][float(s)]:.1f} ± {e['drop_std'][float(s)]:.1f}" for s in snrs)
        lo, hi = min(e["seed_distances"]), max(e["seed_distances"])
        lines.append(f"| {e['reading']} | {e['seeds']} | {100 * statistics.fmean(acc):.1f} ± {100 * sd:.1f} | {cells} | "
                     f"**{e['distance']:.2f}** | {lo:.2f}-{hi:.2f} |")
    return "\n".join(lines)
