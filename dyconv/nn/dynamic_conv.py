"""DynamicConv2d: the per-sample convolution as a module (the weights come with each call)."""
from __future__ import annotations

import torch
from torch import nn

from dyconv._args import conv_params
from dyconv.functional import dynamic_conv2d
from dyconv.nn.padding_mode import check_padding_mode, pad


class DynamicConv2d(nn.Module):
    """Per-sample 2-D convolution: ``out[b] = F.conv2d(x[b:b+1], weight[b], bias[b], ...)``.

    The layer holds only the geometry; ``weight`` ``(B, Cout, Cin // groups, kH, kW)`` and
    ``bias`` ``(B, Cout)`` (optional) are produced per sample by the caller (a hypernetwork,
    an expert mixture, a modulation) and passed to :meth:`forward`. It has no parameters.

    Args:
        stride, dilation: int or pair, >= 1.
        padding: int, pair, ``"same"`` (stride 1) or ``"valid"``.
        groups: as in ``nn.Conv2d`` (``groups == Cin``: depthwise).
        padding_mode: ``"zeros"``, ``"reflect"``, ``"replicate"`` or ``"circular"``, as in ``nn.Conv2d``.
    """

    def __init__(self, stride=1, padding=0, dilation=1, groups=1, padding_mode="zeros"):
        super().__init__()
        conv_params((1, 1), stride, padding, dilation)  # nn.Conv2d's argument errors, at construction
        self.padding_mode = check_padding_mode("DynamicConv2d", padding_mode)
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups

    def forward(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        x, padding = pad(x, self.padding_mode, weight.shape[3:], self.stride, self.padding, self.dilation)
        return dynamic_conv2d(x, weight, bias, stride=self.stride, padding=padding,
                              dilation=self.dilation, groups=self.groups)

    def extra_repr(self) -> str:
        s = f"stride={self.stride}, padding={self.padding!r}, dilation={self.dilation}, groups={self.groups}"
        return s if self.padding_mode == "zeros" else s + f", padding_mode={self.padding_mode!r}"
