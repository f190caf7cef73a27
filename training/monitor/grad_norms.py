"""Gradient norms reaching each part of an enhancer during training, accumulated over an epoch's steps.

Groups: ``generator`` = the filter generator's convolutional trunk (DFE/DCL/DSL); ``layer1`` ...
``layer5`` = the parameters that make dynamic layer i's filters, scale and shift (the generator's
heads FC_i and FC_{5+i} for the dynamic enhancers, the learned weights, scales and shifts for SFE).
Only trainable parameters count (DCL: stage 2). The epoch's value of a group is the root mean square
over the steps of that step's gradient norm.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from models.maskers import DynamicMasker, StaticMasker


def parameter_groups(model: nn.Module) -> dict[str, list[nn.Parameter]]:
    """{group name: trainable parameters} of an enhancer (see the module doc); {} for a model without masks."""
    groups: dict[str, list[nn.Parameter]] = {}
    seen: set[int] = set()
    stages = model.stages() if hasattr(model, "stages") else []
    for stage in stages:
        if isinstance(stage, DynamicMasker):
            g = stage.generator
            parts = [("generator", list(g.features.parameters()))]
            parts += [(f"layer{i + 1}", [*w.parameters(), *n.parameters()])
                      for i, (w, n) in enumerate(zip(g.weight_heads, g.norm_heads))]
        elif isinstance(stage, StaticMasker):
            parts = [(f"layer{i + 1}", [w, s, b])
                     for i, (w, s, b) in enumerate(zip(stage.weights, stage.scales, stage.shifts))]
        else:
            continue
        for name, params in parts:
            params = [p for p in params if p.requires_grad and id(p) not in seen]
            seen.update(id(p) for p in params)
            if params:
                groups.setdefault(name, []).extend(params)
    return groups


class GradNorms:
    """Call :meth:`step` after each ``backward()``; :meth:`epoch` gives the RMS norms and resets."""

    def __init__(self, model: nn.Module):
        self.groups = parameter_groups(model)
        self._reset()

    def _reset(self) -> None:
        self.squares = {name: 0.0 for name in self.groups}
        self.steps = 0

    def step(self) -> None:
        for name, params in self.groups.items():
            grads = [p.grad for p in params if p.grad is not None]
            if grads:
                self.squares[name] += float(torch.stack([g.detach().double().pow(2).sum() for g in grads]).sum())
        self.steps += 1

    def epoch(self) -> dict[str, float]:
        out = {name: math.sqrt(s / self.steps) if self.steps else float("nan") for name, s in self.squares.items()}
        self._reset()
        return out
