"""On-disk feature cache: a folder per fingerprint, arrays written atomically."""
import hashlib
import json
import os
from pathlib import Path

import numpy as np

CACHE_VERSION = "1"  # bump when the layout or the extraction code changes meaning


def cache_root(cache_dir=None):
    """``cache_dir``, else $DYCONV_CACHE, else ~/.cache/dyconv."""
    if cache_dir is None:
        cache_dir = os.environ.get("DYCONV_CACHE") or Path.home() / ".cache" / "dyconv"
    return Path(cache_dir).expanduser()


def digest(obj, length=16):
    """Stable short hash of a JSON-serializable object."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def _atomic(path, write):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def save_arrays(path, **arrays):
    def write(tmp):
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    _atomic(path, write)


def save_npy(path, array):
    def write(tmp):
        with open(tmp, "wb") as f:
            np.save(f, array)
    _atomic(path, write)


class NpyWriter:
    """A .npy file filled in place (memory-mapped), then moved to ``path`` by :meth:`commit`."""

    def __init__(self, path, shape, dtype=np.float32):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        self.array = np.lib.format.open_memmap(self._tmp, mode="w+", dtype=dtype, shape=shape)

    def commit(self):
        self.array.flush()
        del self.array
        os.replace(self._tmp, self.path)

    def discard(self):
        del self.array
        self._tmp.unlink(missing_ok=True)


def load_arrays(path):
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def save_json(path, obj):
    _atomic(path, lambda tmp: Path(tmp).write_text(json.dumps(obj, indent=1)))


def load_json(path):
    return json.loads(Path(path).read_text())
