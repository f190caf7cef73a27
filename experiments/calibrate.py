#!/usr/bin/env python
"""Calibrate the data readings on dev (docs/readings.md); see ``python experiments/calibrate.py --help``.

The logic lives in the ``training`` package (training/calibrate_cli.py, training/calibration.py).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from training.calibrate_cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
