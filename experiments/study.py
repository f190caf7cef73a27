#!/usr/bin/env python
"""A study over methods and seeds, resumable; see ``python experiments/study.py --help``.

The logic lives in training/study/ (plan, runner, cli).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from training.study.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
