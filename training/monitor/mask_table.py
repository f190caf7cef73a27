"""The masks of the selected models, per run: a markdown table from the runs' masks.csv (the dev-fold mask
statistics of every epoch; the selected epoch is the first with the best dev accuracy, as
training.engine.loop selects); ``main`` is experiments/mask_table.py."""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

PROG = "mask_table.py"
DESCRIPTION = "The mask statistics on dev of each run's selected enhancer models, as a markdown table."


def selected_rows(masks_csv: Path) -> list[dict]:
    """Per stage of ``masks_csv``: the row of its selected epoch, plus ``epochs`` (how many it trained) and
    ``initial`` (the epoch-0 row, before training, when present)."""
    with open(masks_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    out = []
    for stage in dict.fromkeys(r["stage"] for r in rows):
        trained = [r for r in rows if r["stage"] == stage and r["dev_accuracy"] != ""]
        if not trained:
            continue
        best = max(trained, key=lambda r: (float(r["dev_accuracy"]), -int(r["epoch"])))
        initial = next((r for r in rows if r["stage"] == stage and r["epoch"] == "0"), None)
        out.append({**best, "epochs": len(trained), "initial": initial})
    return out


def _seed(run: Path, masks: Path) -> str:
    config = json.loads((run / "config.json").read_text())
    seeds = config.get("seeds") or [config.get("seed")]
    return masks.parent.name.split("seed")[-1] if len(seeds) > 1 else str(seeds[0])


def table(runs: list[Path]) -> str:
    """One row per (run, seed, stage): selected epoch of the epochs trained, dev accuracy, and per mask stage the
    mean, std and the fraction of the time-frequency bins below 0.5 on dev."""
    lines = ["| seed | stage | selected epoch / trained | dev % | mask 1: mean, std, < 0.5 | mask 2: mean, std, < 0.5 |",
             "|---:|---|---|---:|---|---|"]
    for run in map(Path, runs):
        for masks in sorted(run.rglob("masks.csv")):
            for r in selected_rows(masks):
                cells = []
                for i in (1, 2):
                    if r.get(f"mask{i}_mean"):
                        cells.append(f"{float(r[f'mask{i}_mean']):.3f}, {float(r[f'mask{i}_std']):.3f}, "
                                     f"{100 * float(r[f'mask{i}_below_0.5']):.1f} %")
                    else:
                        cells.append("–")
                lines.append(f"| {_seed(run, masks)} | {r['stage']} | {r['epoch']} / {r['epochs']} | "
                             f"{100 * float(r['dev_accuracy']):.1f} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION)
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="train.py output folders (their masks.csv files)")
    p.add_argument("--out", metavar="FILE", help="also write the table to this file")
    a = p.parse_args(argv)
    missing = [r for r in a.runs if not (Path(r) / "config.json").is_file() or not any(Path(r).rglob("masks.csv"))]
    if missing:
        print(f"{PROG}: error: no config.json or masks.csv in {', '.join(missing)}", file=sys.stderr)
        return 2
    text = table([Path(r) for r in a.runs])
    if a.out:
        Path(a.out).write_text(text + "\n")
    print(text)
    return 0
