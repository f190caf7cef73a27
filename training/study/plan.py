"""The plan of a study: one train.py run per (method, seed), the order they depend on each other, and their commands.

- CNN-FC runs first in each seed: it trains the classifier and puts it in the classifier cache, and every other run
  of that seed reuses it from there (training/classifier_cache.py) instead of training its own.
- DCL runs after the DFE run of its seed and takes its stage 1 from it (``--dfe-from``, training/stage1_reuse.py):
  DFE is trained once per seed for both methods, with the result of a DCL run from scratch.
- Runs live in ``<out>/<method>/seed<seed>/``; the study's own files (logs, summary) beside them.

Runs that are ready start seed by seed, and within a seed longest first (by the longest chain of work that waits on
them, from :data:`RELATIVE_COST`): a study stopped early leaves whole seeds to summarise, and the long DSL run of a
seed does not end up alone at the end.
"""
from __future__ import annotations

import datetime
import json
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from training.reports.paper import METHODS

ROOT = Path(__file__).resolve().parents[2]
TRAIN = ROOT / "experiments" / "train.py"
# Single-thread minutes of each run on the built-in data, config small (docs/results.md); only the order in which
# ready runs start and the first time estimate depend on these.
RELATIVE_COST = {"cnn-fc": 3, "sfe": 11, "dfe": 11, "dcl": 7, "dsl": 25}
# train.py flags the study sets itself for each run
OWN_FLAGS = ("--method", "--seed", "--seeds", "--out", "--resume", "--dfe-from", "--data-seed")


@dataclass(frozen=True)
class StudyRun:
    method: str
    seed: int
    folder: Path
    after: tuple[str, ...]  # names of the runs that must finish first
    train_args: tuple[str, ...]  # train.py's arguments, without --resume

    @property
    def name(self) -> str:
        return f"{self.method}/seed{self.seed}"

    @property
    def log(self) -> Path:
        return self.folder.parent.parent / "logs" / f"{self.method}-seed{self.seed}.log"

    def state(self) -> str:
        """'done' (its part finished and its results written), 'started' (continue with --resume) or 'new'."""
        if (self.folder / "checkpoints" / "done.json").is_file() and (self.folder / "results.csv").is_file():
            return "done"
        return "started" if (self.folder / "config.json").is_file() else "new"

    def command(self) -> list[str]:
        """The train.py command that runs it now: with --resume when an earlier attempt started it."""
        return [sys.executable, str(TRAIN), *self.train_args, *(["--resume"] if self.state() == "started" else [])]

    def minutes(self) -> float | None:
        """Wall minutes it took (config.json's start to done.json's finish), when done and not resumed."""
        try:
            started = json.loads((self.folder / "config.json").read_text())["started"]
            finished = json.loads((self.folder / "checkpoints" / "done.json").read_text())["finished"]
            fmt = "%Y-%m-%d %H:%M:%S %z"
            delta = datetime.datetime.strptime(finished, fmt) - datetime.datetime.strptime(started, fmt)
            return delta.total_seconds() / 60
        except (OSError, KeyError, ValueError):
            return None


def parse_seeds(text: str) -> tuple[int, ...]:
    """'0-9' or '0,3,5' or '0-2,7' -> distinct seeds in the order given."""
    seeds: list[int] = []
    for item in filter(None, (t.strip() for t in text.split(","))):
        low, _, high = item.partition("-")
        try:
            values = range(int(low), int(high) + 1) if high else [int(low)]
        except ValueError:
            raise ValueError(f"expected seeds like 0-9 or 0,3,5, got {text!r}") from None
        seeds += [s for s in values if s not in seeds]
    if not seeds or min(seeds) < 0:
        raise ValueError(f"expected seeds >= 0 like 0-9 or 0,3,5, got {text!r}")
    return tuple(seeds)


def parse_methods(text: str) -> tuple[str, ...]:
    names = [m.strip().lower() for m in text.split(",") if m.strip()]
    unknown = [m for m in names if m not in METHODS]
    if unknown or not names:
        raise ValueError(f"expected methods among {','.join(METHODS)}, got {text!r}")
    return tuple(m for m in METHODS if m in names)  # the paper's order


def make_plan(methods, seeds, out: Path, train_args=(), data_seed: int | None = None) -> list[StudyRun]:
    """Every run of the study, in dependency order (seed by seed: CNN-FC, SFE, DFE, DCL, DSL).

    ``train_args``: train.py flags given to every run (the reading, config, schedule...); ``data_seed``: the
    synthetic set's clips, the same for every seed (None: with --data-root, where it does not apply)."""
    out = Path(out)
    runs = []
    for seed in seeds:
        for method in ("cnn-fc", *(m for m in methods if m != "cnn-fc")):
            folder = out / method / f"seed{seed}"
            after = () if method == "cnn-fc" else (f"cnn-fc/seed{seed}",)
            extra: list[str] = []
            if method == "dcl" and "dfe" in methods:
                after = (f"dfe/seed{seed}",)
                extra = ["--dfe-from", str(out / "dfe" / f"seed{seed}")]
            args = ["--method", method, "--seed", str(seed), *([] if data_seed is None else
                                                                ["--data-seed", str(data_seed)]),
                    "--out", str(folder), *extra, *train_args]
            runs.append(StudyRun(method, seed, folder, after, tuple(args)))
    return runs


def priority(run: StudyRun, runs: list[StudyRun]) -> float:
    """The work on the longest chain from ``run`` through the runs that wait on it."""
    waiting = [r for r in runs if run.name in r.after]
    return RELATIVE_COST[run.method] + max((priority(r, runs) for r in waiting), default=0)


def levels(runs: list[StudyRun]) -> list[list[StudyRun]]:
    """The runs in waves: each wave depends only on earlier ones (for --print-commands)."""
    depth: dict[str, int] = {}
    for r in runs:  # runs come in dependency order
        depth[r.name] = 1 + max((depth[a] for a in r.after), default=-1)
    return [[r for r in runs if depth[r.name] == d] for d in range(max(depth.values()) + 1)]


def shell_command(run: StudyRun, study_args: list[str]) -> str:
    """One line a scheduler can run anywhere the folders are reachable: the study itself, limited to this run,
    so that a rerun after a kill resumes it (``--only``)."""
    cut = study_args.index("--") if "--" in study_args else len(study_args)
    return shlex.join(["python", "experiments/study.py", *study_args[:cut], "--only", run.name, *study_args[cut:]])
