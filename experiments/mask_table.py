#!/usr/bin/env python
"""The mask statistics on dev of each run's selected enhancer models, as a markdown table.

    python experiments/mask_table.py RUN_DIR [RUN_DIR ...] [--out FILE]
"""
import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from training.monitor import mask_table  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="mask_table.py", description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="train.py output folders (their masks.csv files)")
    p.add_argument("--out", metavar="FILE", help="also write the table to this file")
    a = p.parse_args(argv)
    missing = [r for r in a.runs if not (Path(r) / "config.json").is_file() or not any(Path(r).rglob("masks.csv"))]
    if missing:
        print(f"mask_table.py: error: no config.json or masks.csv in {', '.join(missing)}", file=sys.stderr)
        return 2
    text = mask_table.table([Path(r) for r in a.runs])
    if a.out:
        Path(a.out).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
