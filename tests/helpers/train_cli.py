"""Helpers of the experiments/ CLI tests: run a script in a subprocess on the tiny synthetic set."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--clips-per-class", "1", "--workers", "1"]  # 80 train, 10 dev, 10 test clips


def run(script: str, *args, cwd=None, fault: str = "", timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    env.pop("DYCONV_FAULT", None)
    if fault:
        env["DYCONV_FAULT"] = fault
    cmd = [sys.executable, str(ROOT / "experiments" / script), *map(str, args)]
    return subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def train(out, cache, *args, **kwargs) -> subprocess.CompletedProcess:
    return run("train.py", "--out", out, "--cache-dir", cache, *TINY, *args, **kwargs)


def table(path) -> tuple[list[str], list[list[str]]]:
    """A markdown table file -> (header cells, body rows of cells)."""
    lines = [line for line in Path(path).read_text().splitlines() if line.startswith("|")]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    return cells[0], cells[2:]
