"""DCL's stage 1 taken from a finished DFE run (train.py --dfe-from RUN_DIR) instead of being trained again.

DCL's stage 1 *is* the DFE stage: the same classifier, the same seed (``seed * 10 + 2``), the same data order, so
a finished DFE run of the same settings holds exactly the model a DCL run would train first. Each stage seeds its
own generators when it starts (training/protocol.py), so DCL's second stage does not depend on whether the first was
trained here or copied: the result is identical (tests/test_train_stage1_reuse.py). The study command
(experiments/study.py) uses this to train DFE once per seed for both methods.

The settings are checked before any work; each part's classifier and DFE checkpoints are copied into this run's
checkpoints when the part starts, after its data fingerprint was compared with the source's.
"""
from __future__ import annotations

import json
from pathlib import Path

from training import classifier_cache, rundir
from training.engine import checkpoint
from training.errors import UsageError
from training.plan import Part, make_plan

FLAG = "--dfe-from"
COPIED = ("cnn-fc.pt", "dfe.pt")
SOURCE_METHODS = ("dfe", "dcl")  # runs that train the DFE stage


def check_source(source: str, config: dict) -> dict:
    """The source run's config.json, after checking that it trained the DFE stage with this run's settings."""
    if config["method"] != "dcl":
        raise UsageError(f"{FLAG} applies to --method dcl (its stage 1 is DFE), got --method {config['method']}")
    path = Path(source) / rundir.CONFIG
    if not path.is_file():
        raise UsageError(f"{FLAG}: {source} holds no {rundir.CONFIG}; expected the folder of a finished DFE run")
    saved = json.loads(path.read_text())
    if saved.get("method") not in SOURCE_METHODS:
        raise UsageError(f"{FLAG}: the run in {source} trained {saved.get('method')!r}; expected a dfe (or dcl) run")
    for key in rundir.RESUME_KEYS:
        if key != "method" and saved.get(key, rundir.BEFORE_READINGS.get(key)) != config.get(key):
            raise UsageError(f"{FLAG}: the run in {source} has {key} = {saved.get(key)!r}, this command "
                             f"{config.get(key)!r}; its DFE stage is not this run's stage 1")
    return saved


def take(source: str, saved: dict, part: Part, fingerprint: str) -> list[str]:
    """Copy the classifier and the finished DFE stage of ``part`` from the source run into ``part.folder``
    (files already there are kept: a resumed run copies nothing twice). Returns the names copied."""
    if saved.get("data_fingerprint") != fingerprint:
        raise UsageError(f"{FLAG}: the run in {source} was trained on other data (fingerprint "
                         f"{saved.get('data_fingerprint')}, this run {fingerprint})")
    plan = make_plan(saved["protocol"], saved["seeds"], ("dfe",), Path(source) / "checkpoints")
    src = next((p for p in plan.parts if (p.fold, p.seed) == (part.fold, part.seed)), None)
    if src is None or not _finished(src.folder / "dfe.pt"):
        where = src.folder / "dfe.pt" if src is not None else source
        raise UsageError(f"{FLAG}: no finished DFE stage for test fold {part.fold}, seed {part.seed} in "
                         f"{where}; finish that run first")
    copied = []
    part.folder.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        if not (part.folder / name).exists():
            classifier_cache.copy(src.folder / name, part.folder / name)  # atomic
            copied.append(name)
    return copied


def _finished(path: Path) -> bool:
    return path.is_file() and bool(checkpoint.load(path)["done"])
