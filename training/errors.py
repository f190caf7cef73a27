"""A user mistake, reported by the command-line tools as one line (the other way a run stops early on purpose, a
diverged loss, is the engine's ``training.engine.loop.TrainingDiverged``)."""
from __future__ import annotations


class UsageError(ValueError):
    """A user mistake (bad flag value, bad path, occupied --out, ...): the CLI prints one line, exit code 2."""
