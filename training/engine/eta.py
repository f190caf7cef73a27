"""Remaining-time estimate of a run.

Before training, each planned stage is timed on a few clips (:func:`probe`) to predict its epoch time
and the evaluation time; as real epochs finish, a stage's own mean measured epoch time replaces the
prediction for its remaining epochs.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class Probe:
    train_step_s: float  # one optimizer step on one batch
    eval_sample_s: float  # one sample's forward pass in eval mode


def probe(model: torch.nn.Module, params: list, x: torch.Tensor, y: torch.Tensor, train_clips: int) -> Probe:
    """Time a throwaway ``model`` (its weights change): the second of two training steps on the first
    ``train_clips`` clips, and the second of two forward passes on all of ``x`` (use the evaluation batch size:
    the time per clip of a forward pass depends on it).

    Runs under ``torch.random.fork_rng`` so the run's random state is untouched.
    """
    with torch.random.fork_rng(devices=[x.device] if x.device.type == "cuda" else []):
        opt = torch.optim.Adam(params, lr=1e-6)
        model.train()
        for i in range(2):
            if i == 1:
                _sync(x)
                start = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x[:train_clips]), y[:train_clips]).backward()
            opt.step()
        _sync(x)
        step_s = time.perf_counter() - start
        model.eval()
        with torch.no_grad():
            for i in range(2):  # the first call in eval mode is slower than the rest: time the second
                start = time.perf_counter()
                model(x)
                _sync(x)
        eval_s = (time.perf_counter() - start) / len(x)
    return Probe(step_s, eval_s)


def _sync(x):
    if x.device.type == "cuda":
        torch.cuda.synchronize(x.device)


class Eta:
    def __init__(self):
        self._predicted: dict[str, float] = {}  # task -> predicted seconds per unit
        self._units: dict[str, int] = {}  # task -> units (epochs; 1 for an evaluation) left
        self._measured: dict[str, list[float]] = {}

    def plan(self, task: str, units: int, seconds_per_unit: float) -> None:
        self._predicted[task] = seconds_per_unit
        self._units[task] = units
        self._measured.setdefault(task, [])

    def done(self, task: str, seconds: float) -> None:
        """One unit of ``task`` took ``seconds``."""
        if task not in self._units:
            return
        self._units[task] = max(self._units[task] - 1, 0)
        self._measured[task].append(seconds)

    def skip(self, task: str, units: int) -> None:
        """``units`` planned units of ``task`` will not run (a stage stopped early)."""
        if task in self._units:
            self._units[task] = max(self._units[task] - units, 0)

    def remaining(self) -> float:
        total = 0.0
        for task, units in self._units.items():
            measured = self._measured[task]
            per_unit = sum(measured) / len(measured) if measured else self._predicted[task]
            total += units * per_unit
        return total
