"""The paper's methods (names, display names, order) and published numbers (classification rate %, UrbanSound8K
fold 10), for the reference columns, rows and lines of the reports.

Copied from the paper's Table 1 and Table 2 (../shared/paper/); noise columns in the order of
``audiodata.NOISE_TYPES``: babble, f16, factory1, factory2, leopard, pink, destroyer.
"""
from __future__ import annotations

import statistics

METHODS = ("cnn-fc", "sfe", "dfe", "dcl", "dsl")
DISPLAY = {"cnn-fc": "CNN-FC", "sfe": "SFE", "dfe": "DFE", "dcl": "DCL", "dsl": "DSL"}
NOISE_DISPLAY = {"babble": "Babble", "f16": "F16", "factory1": "Factory1", "factory2": "Factory2",
                 "leopard": "Leopard", "pink": "Pink", "destroyer": "Destroyer"}
# NOISEX-92 has two destroyer recordings; the paper's "Destroyer" does not say which, so either is compared
# with its column (audiodata's --noises paper picks destroyerengine)
PAPER_ALIASES = {"destroyerengine": "destroyer", "destroyerops": "destroyer"}


def paper_column(noise: str) -> int | None:
    """Index of ``noise``'s column in the paper's Table 2 (None: not one of the paper's noises)."""
    name = PAPER_ALIASES.get(noise, noise)
    return list(NOISE_DISPLAY).index(name) if name in NOISE_DISPLAY else None


def paper_name(noise: str) -> str:
    """The paper's name of the column ``noise`` is compared with (Destroyer for destroyerengine)."""
    return list(NOISE_DISPLAY.values())[paper_column(noise)]


def display(label: str) -> str:
    """A method label as shown: ``dsl`` -> ``DSL``, ``dsl +noise`` -> ``DSL +noise`` (a label the paper does not
    know is left as it is)."""
    base, _, rest = label.partition(" ")
    return DISPLAY.get(base, base) + (f" {rest}" if rest else "")


def in_order(labels) -> list[str]:
    """Method labels in the paper's order of their methods (``dsl`` before ``dsl +noise``), unknown ones last."""
    base = lambda m: m.split(" ")[0]  # noqa: E731
    return sorted(labels, key=lambda m: (METHODS.index(base(m)) if base(m) in METHODS else len(METHODS), m))


def paper_rate(label: str, snr=None, noises=None) -> float | None:
    """The paper's test rate of method ``label``: on the clean test set (``snr`` None), or at ``snr`` dB the mean
    over ``noises`` (default: its seven). None where the paper has no such number: a label that is not one of its
    methods (``dsl +noise``), an SNR or a noise that is not one of its."""
    if label not in TABLE1:
        return None
    if snr is None:
        return TABLE1[label][1]
    row = TABLE2.get(snr, {}).get(label)
    columns = range(len(NOISE_DISPLAY)) if noises is None else sorted({paper_column(n) for n in noises})
    if row is None or None in columns or not columns:
        return None
    return statistics.fmean(row[c] for c in columns)

# Table 1: (dev, test, difference as printed; the paper's difference is |dev - test|)
TABLE1 = {
    "cnn-fc": (76.47, 73.84, 2.63),
    "sfe": (78.79, 74.79, 4.0),
    "dfe": (76.34, 76.94, 0.6),
    "dcl": (76.34, 77.65, 1.29),
    "dsl": (78.55, 78.85, 0.3),
}

# Table 2: TABLE2[snr_db][method] = rates for babble, f16, factory1, factory2, leopard, pink, destroyer
TABLE2 = {
    20: {
        "cnn-fc": (74.07, 73.48, 73, 73.48, 73.36, 73.72, 73.84),
        "sfe": (75.03, 74.55, 74.79, 75.03, 74.79, 75.15, 74.79),
        "dfe": (76.94, 76.58, 77.18, 76.94, 77.54, 76.82, 77.54),
        "dcl": (76.94, 76.82, 76.94, 77.9, 78.49, 77.42, 77.66),
        "dsl": (79.33, 78.73, 78.97, 79.09, 78.97, 79.09, 79.09),
    },
    15: {
        "cnn-fc": (73.72, 73.84, 72.64, 72.64, 73.72, 72.64, 73.95),
        "sfe": (74.07, 74.43, 73.95, 73.95, 74.79, 74.07, 74.12),
        "dfe": (76.7, 77.3, 76.46, 76.46, 76.7, 76.7, 75.87),
        "dcl": (76.58, 77.3, 76.82, 77.3, 77.18, 77.18, 76.58),
        "dsl": (78.97, 78.85, 78.97, 78.38, 79.09, 79.57, 79.45),
    },
    10: {
        "cnn-fc": (71.45, 73.6, 71.45, 72.28, 72.88, 69.89, 71.21),
        "sfe": (74.07, 73.84, 73.84, 74.31, 73.48, 73.48, 73.72),
        "dfe": (75.27, 75.75, 75.15, 77.18, 75.87, 75.15, 75.51),
        "dcl": (75.39, 76.34, 74.91, 76.58, 76.34, 75.51, 76.11),
        "dsl": (79.33, 77.54, 77.9, 79.21, 78.02, 78.38, 79.21),
    },
    5: {
        "cnn-fc": (71.32, 70.61, 68.82, 70.37, 72.88, 63.32, 66.67),
        "sfe": (73.36, 70.97, 68.70, 71.68, 72.76, 64.40, 67.26),
        "dfe": (70.97, 73.3, 69.18, 73, 75.75, 67.26, 70.49),
        "dcl": (71.21, 72.76, 68.58, 73.24, 76.22, 67.98, 70.49),
        "dsl": (76.22, 72.4, 73.12, 78.26, 78.73, 75.03, 76.7),
    },
    0: {
        "cnn-fc": (67.98, 60.81, 61.41, 69.41, 70.25, 55.44, 61.29),
        "sfe": (68.46, 62.72, 61.17, 69.30, 69.41, 55.20, 60.33),
        "dfe": (68.1, 64.52, 64.52, 70.13, 71.18, 62.27, 64.16),
        "dcl": (68.46, 64.52, 64.76, 70.01, 72.16, 61.89, 64.16),
        "dsl": (68.45, 64.16, 65.35, 72.52, 72.88, 60.93, 66.43),
    },
}
