#!/usr/bin/env python
"""Train and evaluate the paper's systems with its protocol; see ``python experiments/train.py --help``.

The logic lives in the ``training`` package (training/cli.py, training/protocol.py).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from training.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
