"""CondConv2d: conditionally parameterized convolution (Yang et al. 2019), drop-in for timm's layer.

Parameter names, shapes, initialisation and output are those of ``timm.layers.CondConv2d``
(``timm/layers/cond_conv2d.py``), so a timm state dict loads as is; the grouped-conv idiom
(``F.conv2d`` with ``groups = groups * B``) is replaced by :func:`dyconv.dynamic_conv2d`.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from dyconv.functional import dynamic_conv2d
from dyconv.nn.padding_mode import check_padding_mode, pad


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _padding(padding, kernel_size, stride, dilation):
    """timm's padding values: ``''`` -> ((stride - 1) + dilation * (k - 1)) // 2; ``'same'`` at stride 1."""
    if isinstance(padding, str):
        p = padding.lower()
        if p == "same" and stride == (1, 1):
            return "same"
        if p == "valid":
            return (0, 0)
        if p == "":
            return tuple(((s - 1) + d * (k - 1)) // 2 for k, s, d in zip(kernel_size, stride, dilation))
        raise ValueError(f"CondConv2d: padding must be an int, a pair, '', 'valid' or 'same' (stride 1), "
                         f"got {padding!r} with stride {stride}")
    return _pair(padding)


class CondConv2d(nn.Module):
    """A per-sample mixture of ``num_experts`` kernels: ``weight[b] = sum_e routing_weights[b, e] * expert_e``.

    Parameters (timm's): ``weight`` ``(num_experts, Cout * Cin // groups * kH * kW)`` and, with
    ``bias=True``, ``bias`` ``(num_experts, Cout)``; each expert initialised like ``nn.Conv2d``
    (Kaiming-uniform with ``a = sqrt(5)``, bias uniform in +-1/sqrt(fan_in)).

    ``forward(x, routing_weights)``: ``routing_weights`` ``(B, num_experts)`` is computed by the
    caller, in timm's EfficientNet blocks ``sigmoid(Linear(global_avg_pool(x)))``.

    ``padding_mode`` (not timm's): ``"zeros"``, ``"reflect"``, ``"replicate"`` or ``"circular"``, as
    in ``nn.Conv2d``.
    """

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, padding="", dilation=1, groups=1,
                 bias=False, num_experts=4, padding_mode="zeros"):
        super().__init__()
        self.padding_mode = check_padding_mode("CondConv2d", padding_mode)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.dilation = _pair(kernel_size), _pair(stride), _pair(dilation)
        self.padding = _padding(padding, self.kernel_size, self.stride, self.dilation)
        self.groups, self.num_experts = groups, num_experts
        self.weight_shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = nn.Parameter(torch.empty(num_experts, math.prod(self.weight_shape)))
        if bias:
            self.bias_shape = (out_channels,)
            self.bias = nn.Parameter(torch.empty(num_experts, out_channels))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        with torch.no_grad():
            for e in range(self.num_experts):
                nn.init.kaiming_uniform_(self.weight[e].view(self.weight_shape), a=math.sqrt(5))
            if self.bias is not None:
                bound = 1 / math.sqrt(math.prod(self.weight_shape[1:]))
                for e in range(self.num_experts):
                    nn.init.uniform_(self.bias[e].view(self.bias_shape), -bound, bound)

    def forward(self, x: torch.Tensor, routing_weights: torch.Tensor) -> torch.Tensor:
        B = x.shape[0]
        weight = torch.matmul(routing_weights, self.weight).view((B,) + self.weight_shape)
        bias = None if self.bias is None else torch.matmul(routing_weights, self.bias)
        x, padding = pad(x, self.padding_mode, self.kernel_size, self.stride, self.padding, self.dilation)
        return dynamic_conv2d(x, weight, bias, stride=self.stride, padding=padding,
                              dilation=self.dilation, groups=self.groups)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding!r}, dilation={self.dilation}, groups={self.groups}, "
                f"bias={self.bias is not None}, num_experts={self.num_experts}"
                + ("" if self.padding_mode == "zeros" else f", padding_mode={self.padding_mode!r}"))
