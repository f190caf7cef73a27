#!/usr/bin/env python
"""Package a trained run's model with AOTInductor; see ``python experiments/export.py --help``.

The logic lives in deployment/export.py.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from deployment.export import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
