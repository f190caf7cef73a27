"""Mask networks: x (B, 1, F, T) -> mask in (0, 1) of the same shape.

:class:`DynamicMasker` is one DFE stage (filter generator + dynamic filter
layer); :class:`StaticMasker` is SFE's mask network, the same five layers with
ordinary learned weights.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.dynamic_layer import DynamicFilterLayer
from models.generator import FilterGenerator


class DynamicMasker(nn.Module):
    """Filter generator + dynamic filter layer: ``mask(x) = layer(x, generator(x))``."""

    def __init__(self, generator_channels, generator_dilations, mask_channels, mask_dilations):
        super().__init__()
        self.generator = FilterGenerator(generator_channels, generator_dilations, mask_channels)
        self.layer = DynamicFilterLayer(mask_dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x, self.generator(x))


class StaticMasker(nn.Module):
    """SFE's mask network (after Shon et al.): the dynamic filter layer's structure
    with learned weights shared by all samples.

    Layer i: ``nn.Conv2d`` 3x3 (no bias, "same" padding, dilation i), layer norm
    over (C, H, W) of each sample, a learned per-channel scale and shift, ReLU
    (sigmoid after the last): the same formula as ``dyconv.dynamic_conv_norm_act``
    with norm="layer", so SFE and DFE differ only in where the filters come from.
    Weights start like nn.Conv2d's default, scales at 1 and shifts at 0, which is
    where the generator's heads start too.

    Ordinary convolution rather than dyconv with weights expanded over the batch:
    with shared weights the stock conv is one batched GEMM whose weight gradient is
    reduced inside the kernel, while dyconv would materialise the expanded weight
    (its kernels make inputs contiguous) and a per-sample weight gradient B times
    the size of the weight, only to sum it.
    """

    def __init__(self, mask_channels, mask_dilations, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.convs, cin = nn.ModuleList(), 1
        for cout, d in zip(mask_channels, mask_dilations):
            self.convs.append(nn.Conv2d(cin, cout, 3, padding=d, dilation=d, bias=False))
            cin = cout
        self.scales = nn.ParameterList(nn.Parameter(torch.ones(c)) for c in mask_channels)
        self.shifts = nn.ParameterList(nn.Parameter(torch.zeros(c)) for c in mask_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = len(self.convs) - 1
        for i, (conv, scale, shift) in enumerate(zip(self.convs, self.scales, self.shifts)):
            y = conv(x)
            y = F.layer_norm(y, y.shape[1:], eps=self.eps)
            y = y * scale[:, None, None] + shift[:, None, None]
            x = torch.sigmoid(y) if i == last else torch.relu(y)
        return x
