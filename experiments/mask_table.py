#!/usr/bin/env python
"""The mask statistics on dev of each run's selected enhancer models, as a markdown table.

    python experiments/mask_table.py RUN_DIR [RUN_DIR ...] [--out FILE]

The logic lives in training/monitor/mask_table.py.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from training.monitor.mask_table import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
