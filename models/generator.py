"""Filter generator (paper §3.1, §4.1): per-sample weights, scales and shifts of the dynamic layer."""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from models.shapes import max_pool

# Std of the head weights relative to the scale of what they generate. The head
# bias holds the starting value (a default-initialised filter, scale 1, shift 0)
# and the small weights add the per-sample part, so at initialisation every
# sample gets a filter near a sensible default, different per sample.
HEAD_WEIGHT_GAIN = 0.1

# Every layer's normalization affine starts at scale 1, shift 0 (the usual start of a normalization's affine,
# the paper's framework's default), the mask layer's too: mask = sigmoid(z) with z the layer-normalized conv
# output, i.e. 0.5 +- 0.2 at the start. The frozen classifier's loss is high for the first epoch, and the mask
# learns to open (towards 1) where the classifier needs the input and stays low where it does not: a mask that
# acts. A start near the identity (sigmoid(4 + 0.5 z), ~0.98) kept the mask at 0.98 for good, because on clean
# training clips every departure from the identity costs loss (the trials: docs/masks.md).
MASK_START_SCALE, MASK_START_SHIFT = 1.0, 0.0
# SFE's mask layer (models.maskers.StaticMasker) starts near the identity instead, at sigmoid(4 + 0.5 z) ~ 0.98:
# its affine is one learned number per channel, which Adam moves by about lr per step, so from sigmoid(z) it
# stays at 0.5 through a short run (config small, seed 0: dev 63.5 % after 5 epochs against CNN-FC's 73.5 %),
# whereas a generator head's output moves with all its weights and recovers in 4-6 epochs (docs/masks.md).
STATIC_MASK_START_SCALE, STATIC_MASK_START_SHIFT = 0.5, 4.0


def initial_affine(cout: int, last: bool, static: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Starting (scale, shift) of one dynamic layer's normalization (``last``: the mask layer; ``static``: SFE's)."""
    if last:
        scale, shift = (STATIC_MASK_START_SCALE, STATIC_MASK_START_SHIFT) if static else (MASK_START_SCALE,
                                                                                          MASK_START_SHIFT)
        return torch.full((cout,), scale), torch.full((cout,), shift)
    return torch.ones(cout), torch.zeros(cout)


class GeneratedFilters(NamedTuple):
    """One entry per dynamic layer: weights (B, Cout, Cin, 3, 3); scales, shifts (B, Cout)."""
    weights: tuple[torch.Tensor, ...]
    scales: tuple[torch.Tensor, ...]
    shifts: tuple[torch.Tensor, ...]


class FilterGenerator(nn.Module):
    """Three dilated 3x3 convs, each ``conv -> batch norm -> max-pool -> ReLU`` ("same"
    padding, stride 1; pools 3x3/2x2 then 3x4/2x3), an average over frequency and
    time to a ``generator_channels[-1]``-d vector, then ten FC heads: FC1-FC5 give
    the 3x3 filters of each dynamic layer, FC6-FC10 its normalization scale and
    shift (``2*Cout`` outputs each: scales first, then shifts).
    """

    def __init__(self, channels=(12, 72, 256), dilations=(6, 4, 1), mask_channels=(24, 96, 96, 96, 1)):
        super().__init__()
        layers, cin = [], 1
        for i, (cout, d) in enumerate(zip(channels, dilations)):
            layers += [
                nn.Conv2d(cin, cout, 3, padding=d, dilation=d, bias=False),  # bias: BN's shift
                nn.BatchNorm2d(cout),
                max_pool(first=i == 0),
                nn.ReLU(),
            ]
            cin = cout
        self.features = nn.Sequential(*layers)
        dim = cin
        self.filter_shapes, self.weight_heads, self.norm_heads = [], nn.ModuleList(), nn.ModuleList()
        cin = 1
        for i, cout in enumerate(mask_channels):
            self.filter_shapes.append((cout, cin, 3, 3))
            bound = 1 / math.sqrt(cin * 9)  # nn.Conv2d's default init bound for this fan-in
            self.weight_heads.append(_head(dim, default_conv_filter(cout, cin).flatten(), size=bound))
            scale_shift = torch.cat(initial_affine(cout, last=i == len(mask_channels) - 1))
            self.norm_heads.append(_head(dim, scale_shift, size=1.0))
            cin = cout

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, F, T) -> the (B, D) vector the heads read."""
        return self.features(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> GeneratedFilters:
        h = self.embed(x)
        weights = tuple(
            head(h).view(-1, *shape) for head, shape in zip(self.weight_heads, self.filter_shapes)
        )
        scales, shifts = zip(*(head(h).chunk(2, dim=1) for head in self.norm_heads))
        return GeneratedFilters(weights, scales, shifts)


def default_conv_filter(cout: int, cin: int) -> torch.Tensor:
    """A (cout, cin, 3, 3) filter bank drawn like nn.Conv2d's default init:
    kaiming_uniform(a=sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = cin*9."""
    w = torch.empty(cout, cin, 3, 3)
    nn.init.kaiming_uniform_(w, a=math.sqrt(5))
    return w


def _head(dim: int, start: torch.Tensor, size: float) -> nn.Linear:
    """FC head ``dim -> len(start)`` whose output starts at ``start`` plus a small per-sample part.

    bias = ``start``; weights ~ N(0, (HEAD_WEIGHT_GAIN * size / sqrt(dim))^2), ``size``
    being the scale of the outputs (the filter's init bound, or 1 for scale/shift).
    For an embedding with entries of order 1 the per-sample part is then about a
    tenth of ``size``: the generated filters start at the scale of a default conv
    init and already differ per sample, and gradients reach the generator.
    """
    head = nn.Linear(dim, start.numel())
    nn.init.normal_(head.weight, std=HEAD_WEIGHT_GAIN * size / math.sqrt(dim))
    with torch.no_grad():
        head.bias.copy_(start)
    return head
