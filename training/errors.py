"""The two ways a run stops early on purpose: a user mistake, or a diverged loss."""
from __future__ import annotations


class UsageError(ValueError):
    """A user mistake (bad flag value, bad path, occupied --out, ...): the CLI prints one line, exit code 2."""


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite; the last good checkpoint is left as it was."""
