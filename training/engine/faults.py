"""Fault injection for the tests of --resume and of the NaN stop (off unless DYCONV_FAULT is set).

``DYCONV_FAULT`` is a comma-separated list of:

* ``exit_after_steps=[STAGE:]N``: end the process with ``os._exit(KILLED_EXIT_CODE)`` right after training
  step N, like ``kill -9`` mid-epoch: nothing is flushed or saved.
* ``nan_at_step=[STAGE:]N``: make the loss of training step N NaN.

Steps are counted from 1 since the process started, over all stages, or only over the stage named
STAGE (cnn-fc, sfe, dfe, dcl, dsl) when one is given.
"""
from __future__ import annotations

import os
import re
from collections import Counter

import torch

ENV = "DYCONV_FAULT"
KILLED_EXIT_CODE = 137  # what a shell reports for kill -9
_ITEM = re.compile(r"(exit_after_steps|nan_at_step)=(?:([a-z-]+):)?(\d+)")


class Faults:
    def __init__(self, spec: str | None = None):
        spec = os.environ.get(ENV, "") if spec is None else spec
        self.settings: dict[str, tuple[str | None, int]] = {}
        for item in filter(None, (s.strip() for s in spec.split(","))):
            match = _ITEM.fullmatch(item)
            if not match:
                raise ValueError(f"{ENV}: expected items like exit_after_steps=[STAGE:]N or nan_at_step=[STAGE:]N, "
                                 f"got {item!r}")
            self.settings[match[1]] = (match[2], int(match[3]))
        self.steps: Counter = Counter()  # per stage, and None = all stages

    def _is(self, key: str, stage: str, step_of) -> bool:
        if key not in self.settings:
            return False
        only, n = self.settings[key]
        return step_of(only if only else None) == n and (only is None or only == stage)

    def corrupt_loss(self, loss: torch.Tensor, stage: str) -> torch.Tensor:
        """The loss of the step about to run, made NaN if this is the ``nan_at_step`` step."""
        if self._is("nan_at_step", stage, lambda s: self.steps[s] + 1):
            return loss * float("nan")
        return loss

    def step_done(self, stage: str) -> None:
        self.steps[None] += 1
        self.steps[stage] += 1
        if self._is("exit_after_steps", stage, lambda s: self.steps[s]):
            os._exit(KILLED_EXIT_CODE)
