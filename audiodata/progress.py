"""Progress of the command-line tools: tqdm's bar on a terminal; in a file or a pipe (``| tee``, ``> log``), a
plain line every 10 % or 30 s instead of a bar redrawn with carriage returns. Neither shows a remaining time
before a few items are done: the first items hold the warm-up (one 15 s first clip made the bar predict hours).

Used by audiodata's feature extraction and by the training's log (training/engine/log.py).
"""
from __future__ import annotations

import sys
import time

from tqdm import tqdm

ETA_AFTER = 3  # items done before a remaining time is shown
LINE_EVERY_FRACTION = 0.1  # plain lines: one per 10 % of the total ...
LINE_EVERY_S = 30.0  # ... or per 30 s, whichever comes first
_R_BAR = "| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}{postfix}]"


def bar(iterable=None, *, file=None, **kwargs) -> tqdm:
    """A tqdm progress bar (same arguments) on ``file`` (default: stderr) that suits where the output goes."""
    file = sys.stderr if file is None else file
    if getattr(file, "isatty", lambda: False)():
        return Bar(iterable, file=file, dynamic_ncols=True, **kwargs)
    return Lines(iterable, file=file, **kwargs)


class Bar(tqdm):
    """tqdm's bar, with "?" for the remaining time until :data:`ETA_AFTER` items are done."""

    WITH_ETA = None  # tqdm's own layout
    NO_ETA = "{l_bar}{bar}" + _R_BAR.replace("{remaining}", "?")

    @property
    def format_dict(self):
        d = super().format_dict
        if d["total"] and d["bar_format"] is None:
            d["bar_format"] = self.NO_ETA if d["n"] - d["initial"] < ETA_AFTER else self.WITH_ETA
        return d


class Lines(Bar):
    """One plain line per :data:`LINE_EVERY_FRACTION` of the total or :data:`LINE_EVERY_S`, and one at the end;
    nothing to clear or redraw."""

    WITH_ETA = "{desc}: {percentage:3.0f}% " + _R_BAR[2:]
    NO_ETA = WITH_ETA.replace("{remaining}", "?")

    def __init__(self, *args, **kwargs):
        self._line_n, self._line_t = 0, _now()
        # display() is asked after every item and decides itself; leave=False: tqdm writes no trailing newline
        super().__init__(*args, **{**kwargs, "mininterval": 0, "miniters": 1, "leave": False})

    def display(self, msg=None, pos=None):
        if msg is not None:  # tqdm clearing its bar (close): nothing to clear in a log
            return False
        step = self.total * LINE_EVERY_FRACTION if self.total else float("inf")
        due = self.n >= self._line_n + step or _now() - self._line_t >= LINE_EVERY_S or self.n == self.total
        if self.n > self._line_n and due:
            self._line()
        return True

    def _line(self):
        self.fp.write(f"{self}\n")
        self.fp.flush()
        self._line_n, self._line_t = self.n, _now()

    def clear(self, nolock=False):  # tqdm.write() clears bars before a message: a line needs no clearing
        pass

    def close(self):
        if not self.disable and self.n > self._line_n:  # stopped early: say where
            self._line()
        super().close()


def _now() -> float:
    return time.monotonic()
