"""A trained model as an AOTInductor package (``.pt2``): written by export.py, run by classify.py.

The package holds the model exported with a dynamic batch for inputs of shape
(B, 1, n_mels, n_frames) — the paper's features, ``audiodata.FEATURES`` — compiled
to C++ (and CUDA) by AOTInductor, plus metadata: method, config, class names,
input shape, device, and the feature reading (``features``, ``snr_reference``) the model was trained on. Loading it
needs torch and ``import dyconv`` (the ops' kernels), not this repository's ``models`` code.

A package is compiled code: loading it runs its shared object. :func:`load` refuses an archive that is not laid out
like the packages :func:`save` writes before it loads anything, but only a trusted source makes a package safe
(docs/security.md).
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
REQUIRED = ("method", "config", "class_names", "n_mels", "n_frames", "device")  # in every package save() writes
ARCHIVE_FILES = ("archive_format", "archive_version", "byteorder", ".data/version", ".data/serialization_id")


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


def archive_metadata(path: Path) -> dict:
    """The package's metadata (``PREFIX`` keys, prefix removed), read from the archive as JSON without loading
    anything in it. UsageError unless the archive holds what AOTInductor writes for export.py and nothing else: one
    top folder with the archive's bookkeeping files (``archive_format`` ``pt2``) and ``data/aotinductor/model/``,
    which holds one shared object and the metadata :func:`save` records. (torch's loader would also unpickle
    weights, constants and exported programs found elsewhere in an archive: a package never holds any.)"""
    def refuse(reason):
        return UsageError(f"--checkpoint: {path} is not a model package written by export.py ({reason}); a .pt2 "
                          f"is compiled code: run only packages from a trusted source")

    if not zipfile.is_zipfile(path):  # checked first: torch logs a warning about such files before it fails
        raise refuse("not a .pt2 archive")
    with zipfile.ZipFile(path) as z:
        names = [n for n in z.namelist() if not n.endswith("/")]
        roots = {n.split("/", 1)[0] for n in names}
        root = roots.pop() if len(roots) == 1 else None
        if root is None or f"{root}/archive_format" not in names or z.read(f"{root}/archive_format") != b"pt2":
            raise refuse("no archive_format pt2 in one top folder")
        model_dir = f"{root}/data/aotinductor/model/"
        other = [n for n in names if not n.startswith(model_dir) and n[len(root) + 1:] not in ARCHIVE_FILES]
        if other:
            raise refuse(f"it holds files export.py does not write: {', '.join(other[:3])}")
        shared = [n for n in names if n.endswith(".so")]
        if len(shared) != 1:
            raise refuse(f"{len(shared)} shared objects in {model_dir}, expected 1")
        meta = {}
        for name in (n for n in names if n.endswith("_metadata.json")):
            try:
                meta.update(json.loads(z.read(name)))
            except ValueError:
                raise refuse(f"{name} is not JSON") from None
    meta = {k[len(PREFIX):]: v for k, v in meta.items() if k.startswith(PREFIX)}
    missing = [k for k in REQUIRED if k not in meta]
    if missing:
        raise refuse(f"no {', '.join(PREFIX + k for k in missing)} in its metadata")
    return meta


def load(path: Path, device: str) -> Package:
    """Load a package written by :func:`save`; UsageError when it is not one (checked before anything in it is
    loaded: :func:`archive_metadata`) or was built for another device."""
    import dyconv  # noqa: F401  (the dyconv ops the package calls)

    meta = archive_metadata(path)
    if meta["device"] != device:
        raise UsageError(f"--checkpoint: {path} was compiled for {meta['device']}, got --device {device}; "
                         f"use --device {meta['device']} or export the run again with --device {device}")
    try:
        package = Package(torch._inductor.aoti_load_package(str(path)), meta["method"], meta["config"],
                          json.loads(meta["class_names"]), int(meta["n_mels"]), int(meta["n_frames"]),
                          meta["device"], Path(path), meta.get("features", "logmel"),
                          meta.get("snr_reference", "clip"))
    except Exception as e:  # a package of this layout that still does not load
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UsageError(f"--checkpoint: {path} is not a model package written by export.py ({reason})") from None
    return package
