"""Entry point of experiments/summarize_seeds.py: runs of experiments/train.py over seeds as seeds.md and
robustness.png (training/reports/seed_summary.py), a run trained with --train-noise labelled "<method> +noise"."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from training.arguments import ArgumentParser

PROG = "summarize_seeds.py"
DESCRIPTION = ("Summarise runs of experiments/train.py over seeds: mean ± std, paired differences to CNN-FC with "
               "95 % intervals, and the verdict on the paper's claims cell by cell (Holm-corrected).")


def label(run: Path, method: str) -> str:
    """``method`` of ``run``, or ``"<method> +noise"`` when the run trained it on noisy data (multi-condition:
    the enhancers, and CNN-FC with --train-noise-classifier), so it stays apart from the clean-trained one."""
    config = json.loads((run / "config.json").read_text())
    if not config.get("train_noise") or method == "cnn-fc" and not config.get("train_noise_classifier"):
        return method
    return f"{method} +noise"


def main(argv=None) -> int:
    p = ArgumentParser(prog=PROG, description=DESCRIPTION)
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folders holding results.csv and config.json")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for seeds.md, verdict.md and robustness.png")
    a = p.parse_args(argv)
    missing = [r for r in a.runs if not (Path(r) / "results.csv").is_file()]
    if missing:
        print(f"{PROG}: error: no results.csv in {', '.join(missing)} (unfinished runs?)", file=sys.stderr)
        return 2
    try:
        text = summarize(a.runs, Path(a.out))
    except (ValueError, KeyError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    print(text)
    return 0


def summarize(runs, out: Path) -> str:
    """seeds.md, verdict.md and robustness.png of ``runs`` in ``out``; returns seeds.md and verdict.md and where
    they were written. Raises ValueError / KeyError for runs that do not go together."""
    from training.reports import results, seed_summary
    from training.reports.robustness import robustness_figure
    from training.reports.verdict import verdict_md

    rows = seed_summary.collect(runs, label)
    text, verdict = seed_summary.seeds_md(rows), verdict_md(rows)
    out.mkdir(parents=True, exist_ok=True)
    (out / "seeds.md").write_text(text)
    (out / "verdict.md").write_text(verdict)
    robustness_figure(rows, results.noises_of(rows), results.snrs_of(rows), out / "robustness.png", paper=True)
    return (text + "\n" + verdict + f"\nwritten: {out / 'seeds.md'}, {out / 'verdict.md'}, "
            f"{out / 'robustness.png'}")
