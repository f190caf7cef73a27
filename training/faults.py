"""Fault injection for the tests of --resume and of the NaN stop (off unless DYCONV_FAULT is set).

``DYCONV_FAULT`` is a comma-separated list of:

* ``exit_after_steps=N``: end the process with ``os._exit(KILLED_EXIT_CODE)`` right after training step N
  (counted over the whole process, all stages), like ``kill -9`` mid-epoch: nothing is flushed or saved.
* ``nan_at_step=N``: make the loss of training step N NaN (steps counted from 1).
"""
from __future__ import annotations

import os

import torch

ENV = "DYCONV_FAULT"
KILLED_EXIT_CODE = 137  # what a shell reports for kill -9
_KEYS = ("exit_after_steps", "nan_at_step")


class Faults:
    def __init__(self, spec: str | None = None):
        spec = os.environ.get(ENV, "") if spec is None else spec
        self.settings: dict[str, int] = {}
        for item in filter(None, (s.strip() for s in spec.split(","))):
            key, _, value = item.partition("=")
            if key not in _KEYS or not value.isdigit():
                raise ValueError(f"{ENV}: expected items like {', '.join(k + '=N' for k in _KEYS)}, got {item!r}")
            self.settings[key] = int(value)
        self.steps = 0

    def corrupt_loss(self, loss: torch.Tensor) -> torch.Tensor:
        """The loss of the step about to run, made NaN if this is the ``nan_at_step`` step."""
        if self.settings.get("nan_at_step") == self.steps + 1:
            return loss * float("nan")
        return loss

    def step_done(self) -> None:
        self.steps += 1
        if self.settings.get("exit_after_steps") == self.steps:
            os._exit(KILLED_EXIT_CODE)
