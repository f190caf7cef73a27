#!/usr/bin/env python
"""Summarise runs of experiments/train.py over seeds: mean ± std, paired differences to CNN-FC with 95 % intervals.

    python experiments/summarize_seeds.py RUN_DIR [RUN_DIR ...] --out DIR

Writes DIR/seeds.md (the two tables) and DIR/robustness.png; prints the tables. Runs trained with --train-noise
are labelled "<method> +noise" so they stay apart from the clean-trained ones.
"""
import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from training.reports import results, seed_summary  # noqa: E402
from training.reports.robustness import robustness_figure  # noqa: E402


def _label(run: Path, method: str) -> str:
    config = json.loads((run / "config.json").read_text())
    if not config.get("train_noise") or method == "cnn-fc" and not config.get("train_noise_classifier"):
        return method
    return f"{method} +noise"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="summarize_seeds.py", description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folders holding results.csv and config.json")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for seeds.md and robustness.png")
    a = p.parse_args(argv)
    missing = [r for r in a.runs if not (Path(r) / "results.csv").is_file()]
    if missing:
        print(f"summarize_seeds.py: error: no results.csv in {', '.join(missing)} (unfinished runs?)", file=sys.stderr)
        return 2
    try:
        rows = seed_summary.collect(a.runs, _label)
    except (ValueError, KeyError) as e:
        print(f"summarize_seeds.py: error: {e}", file=sys.stderr)
        return 2
    text = seed_summary.seeds_md(rows)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "seeds.md").write_text(text)
    robustness_figure(rows, results.noises_of(rows), results.snrs_of(rows), out / "robustness.png", paper=True)
    print(text + f"\nwritten: {out / 'seeds.md'}, {out / 'robustness.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
