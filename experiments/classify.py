#!/usr/bin/env python
"""Classify audio files with a trained run; see ``python experiments/classify.py --help``.

The logic lives in deployment/classify.py.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from deployment.classify import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
