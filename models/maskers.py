"""Mask networks: x (B, 1, F, T) -> mask in (0, 1) of the same shape.

:class:`DynamicMasker` is one DFE stage (filter generator + dynamic filter
layer); :class:`StaticMasker` is SFE's mask network, the same five layers with
ordinary learned weights. Both run their five layers through
:class:`DynamicFilterLayer`, i.e. through ``dyconv.dynamic_conv_norm_act``.
"""
from __future__ import annotations

import torch
from torch import nn

from models.dynamic_layer import DynamicFilterLayer
from models.generator import FilterGenerator, GeneratedFilters, default_conv_filter, initial_affine


class DynamicMasker(nn.Module):
    """Filter generator + dynamic filter layer: ``mask(x) = layer(x, generator(x))``."""

    def __init__(self, generator_channels, generator_dilations, mask_channels, mask_dilations):
        super().__init__()
        self.generator = FilterGenerator(generator_channels, generator_dilations, mask_channels)
        self.layer = DynamicFilterLayer(mask_dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x, self.generator(x))


class StaticMasker(nn.Module):
    """SFE's mask network (after Shon et al.): the dynamic filter layer with learned
    weights, scales and shifts shared by all samples.

    The same :class:`DynamicFilterLayer` (one ``dyconv.dynamic_conv_norm_act`` per
    layer: conv, layer norm over (C, H, W), per-channel affine, ReLU / sigmoid)
    runs with the parameters expanded over the batch (``.expand``: views, no
    copy here), so SFE and DFE differ only in where the filters come from (and where the mask starts).
    Weights start like nn.Conv2d's default init and the affine at
    :func:`initial_affine` (the mask layer's near the identity, unlike the generator's: see there).

    Why dyconv rather than nn.Conv2d + layer norm: one code path shared with DFE
    (same normalization by construction, and the op can be swapped for
    ``dyconv.reference`` in tests), and on this CPU build the fused op took about
    half the CPU time of nn.Conv2d + F.layer_norm + affine + activation for a
    training step (torch's dilated conv backward is slow on CPU). The price: the
    kernels make the expanded weight contiguous (B copies of it, small next to
    the activations) and return a per-sample weight gradient that autograd sums.
    """

    def __init__(self, mask_channels, mask_dilations):
        super().__init__()
        self.weights, self.scales, self.shifts = nn.ParameterList(), nn.ParameterList(), nn.ParameterList()
        cin = 1
        for i, cout in enumerate(mask_channels):
            scale, shift = initial_affine(cout, last=i == len(mask_channels) - 1, static=True)
            self.weights.append(nn.Parameter(default_conv_filter(cout, cin)))
            self.scales.append(nn.Parameter(scale))
            self.shifts.append(nn.Parameter(shift))
            cin = cout
        self.layer = DynamicFilterLayer(mask_dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B = x.shape[0]
        filters = GeneratedFilters(
            tuple(w.expand(B, *w.shape) for w in self.weights),
            tuple(s.expand(B, -1) for s in self.scales),
            tuple(s.expand(B, -1) for s in self.shifts),
        )
        return self.layer(x, filters)
