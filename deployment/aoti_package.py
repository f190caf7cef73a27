"""A trained model as an AOTInductor package (``.pt2``): written by export.py, run by classify.py.

The package holds the model exported with a dynamic batch for inputs of shape
(B, 1, n_mels, n_frames) — the paper's features, ``audiodata.FEATURES`` — compiled
to C++ (and CUDA) by AOTInductor, plus metadata: method, config, class names,
input shape, device, and the feature reading (``features``, ``snr_reference``) the model was trained on. Loading it needs torch and ``import dyconv`` (the ops'
kernels), not this repository's ``models`` code.
"""
from __future__ import annotations

import json
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch

from training.errors import UsageError

PREFIX = "dyconv."


@dataclass
class Package:
    """A loaded package: ``run(x) -> logits`` for x of shape (B, 1, n_mels, n_frames) on ``device``."""

    run: object
    method: str
    config: str
    class_names: list[str]
    n_mels: int
    n_frames: int
    device: str
    path: Path
    features: str = "logmel"  # the feature reading the model was trained on
    snr_reference: str = "clip"


def export_program(model: torch.nn.Module, n_mels: int, n_frames: int, device: str):
    """``torch.export`` of ``model`` with a dynamic batch dimension."""
    example = torch.rand(2, 1, n_mels, n_frames, device=device)
    return torch.export.export(model, (example,), dynamic_shapes=({0: torch.export.Dim("batch")},))


def save(trained, n_frames: int, device: str, out: Path) -> Path:
    """Export ``trained`` (a deployment.trained_model.TrainedModel on ``device``) and compile it to ``out``."""
    metadata = {"method": trained.method, "config": trained.config, "class_names": json.dumps(trained.class_names),
                "n_mels": str(trained.n_mels), "n_frames": str(n_frames), "device": device,
                "features": trained.features, "snr_reference": trained.snr_reference}
    program = export_program(trained.model, trained.n_mels, n_frames, device)
    with warnings.catch_warnings():  # torch's own pytree deprecation inside the packager, nothing of ours
        warnings.filterwarnings("ignore", message=".*LeafSpec.*", category=FutureWarning)
        path = torch._inductor.aoti_compile_and_package(
            program, package_path=str(out),
            inductor_configs={"aot_inductor.metadata": {PREFIX + k: v for k, v in metadata.items()}})
    return Path(path)


def load(path: Path, device: str) -> Package:
    """Load a package written by :func:`save`; UsageError when it is not one or was built for another device."""
    import dyconv  # noqa: F401  (the dyconv ops the package calls)

    if not zipfile.is_zipfile(path):  # checked first: torch logs a warning about such files before it fails
        raise UsageError(f"--checkpoint: {path} is not a model package written by export.py (not a .pt2 archive)")
    try:
        loaded = torch._inductor.aoti_load_package(str(path))
        meta = {k[len(PREFIX):]: v for k, v in loaded.get_metadata().items() if k.startswith(PREFIX)}
        package = Package(loaded, meta["method"], meta["config"], json.loads(meta["class_names"]),
                          int(meta["n_mels"]), int(meta["n_frames"]), meta["device"], Path(path),
                          meta.get("features", "logmel"), meta.get("snr_reference", "clip"))
    except Exception as e:  # not a package, or one written by something else
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UsageError(f"--checkpoint: {path} is not a model package written by export.py ({reason})") from None
    if package.device != device:
        raise UsageError(f"--checkpoint: {path} was compiled for {package.device}, got --device {device}; "
                         f"use --device {package.device} or export the run again with --device {device}")
    return package
