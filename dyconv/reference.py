"""Plain-PyTorch ground truth for the dyconv ops.

The batch is folded into the groups of one grouped ``F.conv2d`` (sample ``b``
is group ``b``; with ``groups`` g, group ``b * g + j`` is group ``j`` of sample
``b``), or of one grouped ``F.conv_transpose2d`` (``F.conv1d``, ``F.conv_transpose1d``), followed by ``F.layer_norm`` / ``F.instance_norm``, the
per-sample affine and the activation. Used by the tests and the benchmarks;
it shares no code with the kernels except argument parsing.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from dyconv._args import ACTIVATIONS, NORMS, check_choice, check_eps, conv_params, pair


def dynamic_conv2d(x, weight, bias=None, *, stride=1, padding=0, dilation=1, groups=1):
    """Per-sample convolution: ``out[b] = conv2d(x[b], weight[b], bias[b], groups=groups)``."""
    B, Cin, H, W = x.shape
    _, Cout, _, kH, kW = weight.shape
    stride, padding, dilation, extra = conv_params((kH, kW), stride, padding, dilation)
    if any(extra):
        x = F.pad(x, (0, extra[1], 0, extra[0]))
    if B == 0:  # grouped conv cannot have zero groups
        Hout = (x.shape[2] + 2 * padding[0] - dilation[0] * (kH - 1) - 1) // stride[0] + 1
        Wout = (x.shape[3] + 2 * padding[1] - dilation[1] * (kW - 1) - 1) // stride[1] + 1
        return x.new_zeros((0, Cout, Hout, Wout)) + weight.sum() * 0
    y = F.conv2d(
        x.reshape(1, B * Cin, x.shape[2], x.shape[3]),
        weight.reshape(B * Cout, Cin // groups, kH, kW),
        None if bias is None else bias.reshape(B * Cout),
        stride,
        padding,
        dilation,
        groups=B * groups,
    )
    return y.reshape(B, Cout, y.shape[2], y.shape[3])


def dynamic_conv_norm_act(
    x, weight, scale, shift, *, stride=1, padding="same", dilation=1,
    norm="layer", activation="relu", eps=1e-5, groups=1,
):
    """``act(normalize(dynamic_conv2d(x, weight)) * scale[b, c] + shift[b, c])``."""
    check_choice("norm", norm, NORMS)
    check_choice("activation", activation, ACTIVATIONS)
    eps = check_eps(eps)
    y = dynamic_conv2d(x, weight, stride=stride, padding=padding, dilation=dilation, groups=groups)
    if y.shape[0] > 0:
        if norm == "layer":
            y = F.layer_norm(y, y.shape[1:], eps=eps)
        elif norm == "instance":
            y = F.instance_norm(y, eps=eps)
    y = y * scale[:, :, None, None] + shift[:, :, None, None]
    if activation == "relu":
        y = torch.relu(y)
    elif activation == "sigmoid":
        y = torch.sigmoid(y)
    return y


def dynamic_conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Per-sample transposed convolution: ``out[b] = conv_transpose2d(x[b], weight[b], bias[b], ...)``."""
    B, Cin, H, W = x.shape
    _, _, Cout_g, kH, kW = weight.shape
    if B == 0:
        s, p, op, d = (pair(n, v) for n, v in (("stride", stride), ("padding", padding),
                                                ("output_padding", output_padding), ("dilation", dilation)))
        Hout = (H - 1) * s[0] - 2 * p[0] + d[0] * (kH - 1) + op[0] + 1
        Wout = (W - 1) * s[1] - 2 * p[1] + d[1] * (kW - 1) + op[1] + 1
        return x.new_zeros((0, Cout_g * groups, Hout, Wout)) + weight.sum() * 0
    y = F.conv_transpose2d(
        x.reshape(1, B * Cin, H, W),
        weight.reshape(B * Cin, Cout_g, kH, kW),
        None if bias is None else bias.reshape(-1),
        stride,
        padding,
        output_padding,
        B * groups,
        dilation,
    )
    return y.reshape(B, Cout_g * groups, y.shape[2], y.shape[3])



def dynamic_conv1d(x, weight, bias=None, *, stride=1, padding=0, dilation=1, groups=1):
    """Per-sample 1-D convolution: ``out[b] = conv1d(x[b], weight[b], bias[b], groups=groups)`` (B >= 1)."""
    B, Cin, L = x.shape
    _, Cout, _, k = weight.shape
    y = F.conv1d(x.reshape(1, B * Cin, L), weight.reshape(B * Cout, Cin // groups, k),
                 None if bias is None else bias.reshape(B * Cout), stride, padding, dilation, groups=B * groups)
    return y.reshape(B, Cout, y.shape[2])


def dynamic_conv_transpose1d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Per-sample transposed 1-D convolution: ``out[b] = conv_transpose1d(x[b], weight[b], bias[b], ...)`` (B >= 1)."""
    B, Cin, L = x.shape
    _, _, Cout_g, k = weight.shape
    y = F.conv_transpose1d(x.reshape(1, B * Cin, L), weight.reshape(B * Cin, Cout_g, k),
                           None if bias is None else bias.reshape(-1), stride, padding, output_padding,
                           B * groups, dilation)
    return y.reshape(B, Cout_g * groups, y.shape[2])
