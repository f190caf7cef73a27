"""A trained run's model: find ``models/<method>.pt`` in a train.py output folder and rebuild the module."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from training.engine import checkpoint
from training.errors import UsageError


@dataclass
class TrainedModel:
    """The module (eval mode, on ``device``) and what a user of its outputs needs to know."""

    model: nn.Module
    method: str
    config: str
    class_names: list[str]
    n_mels: int
    path: Path
    features: str = "logmel"  # the feature reading it was trained on (audiodata.readings)
    snr_reference: str = "clip"


def find(checkpoint: str | Path, method: str | None) -> Path:
    """``checkpoint`` is a run folder (its ``method`` model, default: the run's method, dsl for
    ``--method all``) or one model file; returns the model file or raises UsageError saying what is missing."""
    path = Path(checkpoint)
    if path.is_file():
        return path
    if not path.is_dir():
        raise UsageError(f"--checkpoint: {path} is neither a run folder nor a model file")
    if method is None:
        config = path / "config.json"
        if not config.is_file():
            raise UsageError(f"--checkpoint: {path} holds no config.json; is it an output folder of train.py?")
        method = json.loads(config.read_text())["method"]
        method = "dsl" if method == "all" else method
    found = path / "models" / f"{method}.pt"
    if not found.is_file():
        have = sorted(p.stem for p in (path / "models").glob("*.pt"))
        raise UsageError(f"--checkpoint: {path} has no trained {method} model (models/{method}.pt); it has: "
                         f"{', '.join(have) or 'none (did the run finish?)'}")
    return found


def load(path: Path, device: str = "cpu") -> TrainedModel:
    """Rebuild the model saved by train.py at ``path`` (models/<method>.pt) in eval mode on ``device``."""
    import models

    try:
        saved = checkpoint.load(path)  # weights-only: a file holding more than data is refused unread
        keys = ("method", "config", "class_names", "n_mels", "state_dict")
        if not isinstance(saved, dict) or not all(k in saved for k in keys):
            raise ValueError(f"expected a dict with {', '.join(keys)}")
    except checkpoint.RefusedFile as e:
        raise UsageError(f"--checkpoint: {e}") from None
    except Exception as e:  # a file of another kind: say what it is not, not a pickle traceback
        raise UsageError(f"--checkpoint: {path} is not a model file written by train.py (models/<method>.pt): "
                         f"{str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}") from None
    names = list(saved["class_names"])
    model = models.build(saved["method"], saved["config"], len(names), saved["n_mels"])
    model.load_state_dict(saved["state_dict"])
    # a model file written before there were readings was trained on the log-Mel reading with the clip SNR
    return TrainedModel(model.to(device).eval(), saved["method"], saved["config"], names, saved["n_mels"], path,
                        saved.get("features", "logmel"), saved.get("snr_reference", "clip"))


def check_reading(model_features: str, asked: str | None, what: str) -> str:
    """The feature reading to feed a model trained on ``model_features``: that one when ``asked`` is None; a
    UsageError when the user asks for another one (a model must never see a reading it was not trained on)."""
    from audiodata.readings import feature_reading

    if asked is None:
        return model_features
    try:
        asked = feature_reading(asked)
    except ValueError as e:
        raise UsageError(f"--features: {e}") from None
    if asked != model_features:
        raise UsageError(f"--features {asked}: {what} was trained on the {model_features} reading and must be fed "
                         f"{model_features} features; leave --features out (the model's own reading is used) or "
                         f"use a model trained with --features {asked}")
    return asked
