"""Atomic file writes: a crash or a kill mid-write leaves the old file (or none), never a half-written one."""
from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path


def atomic_write(path: Path, write) -> None:
    """Write via a temporary file in the same folder, then rename over ``path``: a crash leaves the old file.

    The file ends with the mode a plain ``open(path, "w")`` gives: an existing file's mode, else 0666 less the
    umask (tempfile.mkstemp would leave every output owner-only)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the kernel applies the umask, as open() does
    try:
        with os.fdopen(fd, "wb") as f:
            if path.exists():
                os.fchmod(f.fileno(), stat.S_IMODE(path.stat().st_mode))
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_text(text: str, path) -> None:
    atomic_write(path, lambda f: f.write(text.encode()))
