"""Checkpoint files (written atomically, read weights-only) and the random-number state that --resume must restore.

Every ``.pt`` file the project reads goes through :func:`load`: ``torch.load(weights_only=True)``, which builds
tensors and plain data (dicts, lists, tuples, numbers, strings) and refuses anything else, so a file from elsewhere
cannot run code when it is read (docs/security.md).
"""
from __future__ import annotations

import json
import pickle
import random
import re
import warnings
import zipfile

import numpy as np
import torch

from training.engine.files import atomic_write


def save(obj, path) -> None:
    """``torch.save`` that never leaves a half-written file at ``path``."""
    atomic_write(path, lambda f: torch.save(obj, f))


def save_json(obj, path) -> None:
    atomic_write(path, lambda f: f.write((json.dumps(obj, indent=2, sort_keys=True) + "\n").encode()))


# What checkpoints written before the random state became plain data hold beyond it: numpy's get_state() tuple
# (str, uint32 array, int, int, float). These exact types, and nothing else of NumPy, are allowed when reading.
EARLIER_RNG_STATE = [np._core.multiarray._reconstruct, np.ndarray, np.dtype, np.dtypes.UInt32DType]


class RefusedFile(ValueError):
    """A file that :func:`load` refused: the message is one line naming it, saying what it holds and what to do
    (the command-line tools print it as a usage error)."""


def load(path, map_location="cpu"):
    """The tensors and plain data saved at ``path``. Raises RefusedFile for a file that holds anything else,
    before any of it is built."""
    try:
        with torch.serialization.safe_globals(EARLIER_RNG_STATE), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Detected pickle protocol")  # a plain pickle: refused below
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        raise RefusedFile(f"{path} is refused: {_refusal(path, e)}; the files train.py writes hold only tensors "
                          f"and plain data. Do not open it with a loader that allows code; delete it if it is a "
                          f"checkpoint or cache entry (that stage is trained again), or get the model file as "
                          f"train.py wrote it from a source you trust") from None


def _refusal(path, error: Exception) -> str:
    """Why the weights-only loader refused ``path``: the objects it holds (read from the pickle, not run)."""
    if zipfile.is_zipfile(path):  # torch.save's format: every global the pickle names
        with torch.serialization.safe_globals(EARLIER_RNG_STATE):
            names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    else:  # an older or a plain pickle: the first one torch met
        names = re.findall(r"GLOBAL (\S+) was not an allowed global", str(error))[:1]
    if names:
        return f"it holds {', '.join(names)}, which could run code when loaded"
    reason = re.search(r"Unpickler error:\s*(.+)", str(error))
    return f"the weights-only loader cannot read it ({reason.group(1).strip() if reason else 'not a pickle of data'})"


def rng_state() -> dict:
    """The state of every random generator a training epoch may draw from, as tensors, numbers and lists."""
    algorithm, key, pos, has_gauss, gauss = np.random.get_state()
    numpy_state = {"algorithm": algorithm, "key": key.tolist(), "pos": pos, "has_gauss": has_gauss, "gauss": gauss}
    state = {"torch": torch.get_rng_state(), "numpy": numpy_state, "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    numpy_state = state["numpy"]
    if isinstance(numpy_state, dict):  # a tuple in checkpoints written by earlier versions
        numpy_state = (numpy_state["algorithm"], np.array(numpy_state["key"], dtype=np.uint32), numpy_state["pos"],
                       numpy_state["has_gauss"], numpy_state["gauss"])
    np.random.set_state(numpy_state)
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
