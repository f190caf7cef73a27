"""Reuse of a trained CNN-FC classifier across runs with the same data, model config and training settings.

The finished classifier stage checkpoint is copied to ``<cache>/classifiers/<key>.pt``; ``key`` hashes the
data fingerprint, the model config, the seed and the settings that shape its training (epochs, batch size,
learning rate, number of processes), so a reused classifier is exactly the one this run would train.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from audiodata.cache import cache_root
from training.engine import checkpoint
from training.engine.files import atomic_write

FORMAT = 1  # bump when the checkpoint layout or the classifier's training changes


def cached_path(cache_dir: str | None, fingerprint: str, config: str, seed: int, epochs: int, batch_size: int,
                lr: float, world_size: int, amp: bool = False) -> Path:
    fields = {"format": FORMAT, "data": fingerprint, "config": config, "seed": seed, "epochs": epochs,
              "batch_size": batch_size, "lr": lr, "world_size": world_size}
    if amp:  # only then: the keys of classifiers trained without --amp stay what they were
        fields["amp"] = True
    key = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:20]
    return cache_root(cache_dir) / "classifiers" / f"cnn-fc-{config}-{key}.pt"


def copy(src: Path, dst: Path) -> None:
    """Copy ``src`` to ``dst`` atomically (a reader never sees half a file), once ``src`` has loaded weights-only
    (a cache entry holding anything but data is refused, with checkpoint.RefusedFile naming it, and never copied)."""
    checkpoint.load(src)
    with open(src, "rb") as f:
        atomic_write(dst, lambda out: shutil.copyfileobj(f, out))
