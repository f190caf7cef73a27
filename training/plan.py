"""The run plan: every unit of work of a run, in the order one loop executes it.

A run is a list of *parts*, one per (test fold, seed): ``--protocol paper`` has the single test fold 10,
``--protocol cv10`` the ten test folds 1..10 (dev fold k - 1, 10 for k = 1); ``--seeds`` repeats each fold
per seed. A part is a list of *units*: first one ``train`` unit per training stage (the classifier first, then
each enhancer stage; DCL's stage 1 is the DFE stage), which trains the stage into its ``checkpoint``; then one
``evaluate`` unit per reported method, which evaluates the stage's selected model into ``results`` (the rows
of results.csv).

The plan is the one description of a run's files that the executor, ``--resume``, the time estimate and the
reports read. A part's files live in ``checkpoints/<part>/``; a run of one part (the default) keeps them in
``checkpoints/`` directly, as runs did before plans existed.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PROTOCOLS = ("paper", "cv10")
PAPER_TEST_FOLD = 10


def test_folds(protocol: str) -> tuple[int, ...]:
    return (PAPER_TEST_FOLD,) if protocol == "paper" else tuple(range(1, 11))


def dev_fold(test_fold: int) -> int:
    """The fold before the test fold; 10 for test fold 1 (the paper: dev 9 for test 10)."""
    return 10 if test_fold == 1 else test_fold - 1


def stages_for(methods) -> list[str]:
    """Training stages in order: the classifier, then each enhancer (DCL's stage 1 is the DFE stage)."""
    stages = ["cnn-fc"]
    for m in methods:
        for s in (("dfe", "dcl") if m == "dcl" else (m,)):
            if s not in stages:
                stages.append(s)
    return stages


@dataclass(frozen=True)
class Part:
    fold: int  # the test fold
    seed: int
    folder: Path  # its checkpoints, results and mixing manifest

    @property
    def name(self) -> str:
        return f"fold{self.fold:02d}-seed{self.seed}"

    @property
    def dev_fold(self) -> int:
        return dev_fold(self.fold)

    @property
    def done_marker(self) -> Path:
        """Written when every unit of the part is done and its data released: --resume skips the part."""
        return self.folder / "done.json"

    @property
    def mixtures(self) -> Path:
        """The mixing manifest of the part's noisy test sets (concatenated into the run's mixtures.csv)."""
        return self.folder / "mixtures.csv"


@dataclass(frozen=True)
class Unit:
    part: Part
    action: str  # "train" or "evaluate"
    stage: str
    checkpoint: Path  # the stage's training checkpoint (the selected model once done)
    results: Path | None  # evaluate: the rows of results.csv; train: None

    @property
    def fold(self) -> int:
        return self.part.fold

    @property
    def seed(self) -> int:
        return self.part.seed


@dataclass(frozen=True)
class Plan:
    parts: tuple[Part, ...]
    units: tuple[Unit, ...]
    methods: tuple[str, ...]  # reported, in results order: cnn-fc first
    stages: tuple[str, ...]  # trained per part, in order
    main: Part  # the part of models/<method>.pt and figure3.png: test fold 10, the first seed

    def units_of(self, part: Part) -> list[Unit]:
        return [u for u in self.units if u.part == part]

    @property
    def results_files(self) -> list[Path]:
        return [u.results for u in self.units if u.results is not None]


def make_plan(protocol: str, seeds, methods, checkpoints: Path) -> Plan:
    """The plan of a run of ``methods`` (the enhancers; CNN-FC is always trained and reported)."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol: expected one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds: expected distinct seeds, got {list(seeds)}")
    folds = test_folds(protocol)
    single = len(folds) == 1 and len(seeds) == 1
    parts = tuple(Part(fold, seed, checkpoints if single else checkpoints / f"fold{fold:02d}-seed{seed}")
                  for fold in folds for seed in seeds)
    stages = stages_for(methods)
    reported = ("cnn-fc", *methods)
    units = []
    for p in parts:
        units += [Unit(p, "train", s, p.folder / f"{s}.pt", None) for s in stages]
        units += [Unit(p, "evaluate", s, p.folder / f"{s}.pt", p.folder / f"{s}.results.json")
                  for s in stages if s in reported]
    main = next(p for p in parts if p.fold == PAPER_TEST_FOLD and p.seed == seeds[0])
    return Plan(parts, tuple(units), tuple(m for m in stages if m in reported), tuple(stages), main)
