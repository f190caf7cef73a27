"""The run's log: lines to the terminal (without breaking tqdm bars) and to ``<out>/train.log``; rank 0 only."""
from __future__ import annotations

import time
from pathlib import Path

from tqdm import tqdm


class Log:
    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.path: Path | None = None

    def to_file(self, path) -> None:
        """Also append every line to ``path`` (set once the output folder exists)."""
        self.path = Path(path) if self.enabled else None

    def __call__(self, message: str = "") -> None:
        if not self.enabled:
            return
        tqdm.write(message)
        if self.path is not None:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            with open(self.path, "a") as f:
                for line in message.splitlines() or [""]:
                    f.write(f"{stamp} {line}\n")

    def bar(self, iterable=None, **kwargs):
        """A tqdm bar on rank 0; silent elsewhere."""
        return tqdm(iterable, disable=not self.enabled, dynamic_ncols=True, **kwargs)


def duration(seconds: float) -> str:
    """``3725`` -> ``"1h 2m 5s"``."""
    seconds = int(round(max(seconds, 0)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{h}h {m}m {s}s"
    if m:
        return f"{m}m {s}s"
    return f"{s}s"
