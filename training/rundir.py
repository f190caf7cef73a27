"""The output folder of a run: choosing it, refusing to overwrite another run, config.json and --resume checks."""
from __future__ import annotations

import json
import time
from pathlib import Path

from training.engine import checkpoint
from training.errors import UsageError
from training.options import Options

CONFIG = "config.json"
# Settings that change the result: --resume must be given the same ones.
RESUME_KEYS = ("method", "config", "classifier_epochs", "enhancer_epochs", "batch_size", "lr", "seed", "data_root",
               "noise_dir", "clips_per_class", "world_size", "amp",
               "protocol", "seeds", "noises", "train_noise", "train_snr", "train_noise_classifier",
               "features", "snr_reference", "patience", "data_seed")

# what a config.json written before issue 21 (no such keys) ran with
BEFORE_READINGS = {"features": "logmel", "snr_reference": "clip", "patience": None, "data_seed": None}


def default_out(method: str) -> str:
    return str(Path("runs") / f"{method}-{time.strftime('%Y%m%d-%H%M%S')}")


def run_config(opts: Options, world_size: int) -> dict:
    """Everything that determined the run (written to config.json; the data fingerprint is added later)."""
    import numpy
    import platform
    import torch

    return {"method": opts.method, "config": opts.config, "classifier_epochs": opts.classifier_epochs,
            "enhancer_epochs": opts.enhancer_epochs, "batch_size": opts.batch_size,
            "lr": opts.lr, "seed": opts.seed, "device": opts.device, "data_root": opts.data_root,
            "noise_dir": opts.noise_dir, "clips_per_class": opts.clips_per_class, "cache_dir": opts.cache_dir,
            "world_size": world_size, **({"amp": True} if opts.amp else {}),
            "protocol": opts.protocol, "seeds": list(opts.seeds),
            "noises": list(opts.noises) if isinstance(opts.noises, tuple) else opts.noises,
            "figure_noise": opts.figure_noise, "optimizer": "Adam", "loss": "cross entropy",
            "train_noise": list(opts.train_noise), "train_snr": list(opts.train_snr),
            "train_noise_classifier": opts.train_noise_classifier,
            "features": opts.features, "snr_reference": opts.snr_reference, "patience": opts.patience,
            "data_seed": opts.data_seed, **({"dfe_from": opts.dfe_from} if opts.dfe_from else {}),
            "versions": {"python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__}}


def check(out: Path, config: dict, resume: bool) -> None:
    """Before any work: a new run needs ``out`` absent or empty; ``--resume`` needs the ``config.json`` of a
    run with the same settings (:data:`RESUME_KEYS`) in ``out``."""
    path = out / CONFIG
    if not resume:
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise UsageError(f"--out {out} already holds files (of another run?); continue that run with --resume, "
                             "or choose a new --out")
        return
    if not path.is_file():
        raise UsageError(f"--resume: {out} holds no {CONFIG}, so there is no run to continue there")
    saved = json.loads(path.read_text())
    for key in RESUME_KEYS:
        if saved.get(key, BEFORE_READINGS.get(key)) != config.get(key):
            raise UsageError(f"--resume: the run in {out} has {key} = {saved.get(key)!r}, this command "
                             f"{config.get(key)!r}; resume with the same settings, or start a new --out")


def start(out: Path, config: dict, fingerprint: str, description: str, resume: bool) -> None:
    """Write config.json of a new run (with the data fingerprint); on --resume, refuse data that changed."""
    path = out / CONFIG
    if resume:
        saved = json.loads(path.read_text())
        if saved.get("data_fingerprint") != fingerprint:
            raise UsageError(f"--resume: the data changed since the run in {out} started (fingerprint "
                             f"{saved.get('data_fingerprint')} then, {fingerprint} now); start a new --out")
        return
    out.mkdir(parents=True, exist_ok=True)
    checkpoint.save_json({**config, "data_fingerprint": fingerprint, "data": description,
                          "started": time.strftime("%Y-%m-%d %H:%M:%S %z")}, path)
