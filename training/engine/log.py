"""The run's log: lines to the terminal (without breaking tqdm bars) and to ``<out>/train.log``; rank 0 only."""
from __future__ import annotations

import time
from pathlib import Path

from tqdm import tqdm

from audiodata import progress


class Log:
    def __init__(self, enabled: bool = True, verbose: bool = False):
        self.enabled = enabled
        self.verbose = verbose  # detail() lines on the terminal too
        self.path: Path | None = None
        self._pending: list[str] = []  # lines logged before the output folder existed

    def to_file(self, path) -> None:
        """Also append every line to ``path`` (set once the output folder exists), the earlier ones first."""
        if self.enabled:
            self.path = Path(path)
            self._append(self._pending)
            self._pending = []

    def __call__(self, message: str = "", terminal: bool = True) -> None:
        if not self.enabled:
            return
        if terminal:
            tqdm.write(message)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        lines = [f"{stamp} {line}" for line in message.splitlines() or [""]]
        if self.path is None:
            self._pending += lines
        else:
            self._append(lines)

    def detail(self, message: str) -> None:
        """A line for train.log that the terminal shows only when verbose (train.py --verbose)."""
        self(message, terminal=self.verbose)

    def _append(self, lines: list[str]) -> None:
        with open(self.path, "a") as f:
            f.writelines(line + "\n" for line in lines)

    def bar(self, iterable=None, **kwargs):
        """A progress bar on rank 0 (plain lines when stderr is not a terminal: audiodata/progress.py); silent
        elsewhere."""
        return progress.bar(iterable, disable=not self.enabled, **kwargs)


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
