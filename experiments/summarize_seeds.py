#!/usr/bin/env python
"""Summarise runs of experiments/train.py over seeds: mean ± std, paired differences to CNN-FC with 95 % intervals.

    python experiments/summarize_seeds.py RUN_DIR [RUN_DIR ...] --out DIR

Writes DIR/seeds.md (the two tables) and DIR/robustness.png; prints the tables. Runs trained with --train-noise
are labelled "<method> +noise" so they stay apart from the clean-trained ones. The logic lives in
training/summarize_cli.py.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from training.summarize_cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
