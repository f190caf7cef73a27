"""Tensor checks of the fake (meta) kernels: the Python mirror of csrc/checks.cpp.

The real kernels check in C++; the fake kernels run instead of them under
``torch.compile`` and ``FakeTensorMode`` and must reject the same inputs with
the same messages ("what, expected, got").
"""
from __future__ import annotations

import torch

from dyconv._args import ACTIVATIONS, NORMS


def _fail(op: str, msg: str):
    raise RuntimeError(f"{op}: {msg}")


def check_like(op, name, t, x, shape):
    """``t`` must have the dtype and device of ``x`` and exactly ``shape`` (csrc/checks.cpp: check_like)."""
    if t.dtype != x.dtype:
        _fail(op, f"{name} must have the dtype of x, expected {x.dtype}, got {t.dtype}")
    if t.device != x.device:
        _fail(op, f"{name} must be on the device of x, expected {x.device}, got {t.device}")
    if tuple(t.shape) != tuple(shape):
        _fail(op, f"{name} must have shape {tuple(shape)}, got {tuple(t.shape)}")


def _check_pair(op, x, weight, layout):
    """Ranks, dtypes, device and batch of x and weight (csrc/checks.cpp: check_pair)."""
    if x.dim() != 4:
        _fail(op, f"x must be a 4-D tensor (B, Cin, H, W), expected 4 dims, got {x.dim()}")
    if weight.dim() != 5:
        _fail(op, f"weight must be a 5-D tensor {layout}, expected 5 dims, got {weight.dim()}")
    if x.dtype not in (torch.float32, torch.float64, torch.bfloat16, torch.float16):
        _fail(op, "x must have a floating point dtype, expected float32, float64, bfloat16 or "
                  f"float16, got {x.dtype}")
    if weight.dtype != x.dtype:
        _fail(op, f"weight must have the dtype of x, expected {x.dtype}, got {weight.dtype}")
    if weight.device != x.device:
        _fail(op, f"weight must be on the device of x, expected {x.device}, got {weight.device}")
    if weight.shape[0] != x.shape[0]:
        _fail(op, f"weight must have one filter bank per sample, expected weight.shape[0] == {x.shape[0]} (the batch of x), got {weight.shape[0]}")


def _check_groups(op, groups, Cin, Cout, cout_name):
    if groups < 1:
        _fail(op, f"groups must be >= 1, got {groups}")
    if Cin % groups != 0:
        _fail(op, f"input channels must be divisible by groups, expected Cin % groups == 0, got Cin={Cin}, groups={groups}")
    if Cout % groups != 0:
        _fail(op, f"output channels must be divisible by groups, expected {cout_name} % groups == 0, got {cout_name}={Cout}, groups={groups}")


def _check_window(op, Cin, Cout, kH, kW, stride, padding, dilation):
    if Cout < 1 or Cin < 1 or kH < 1 or kW < 1:
        _fail(op, f"channels and kernel sizes must be >= 1, got Cin={Cin}, Cout={Cout}, kernel=({kH}, {kW})")
    if len(stride) != 2 or min(stride) < 1:
        _fail(op, f"stride must be two values >= 1, got {list(stride)}")
    if len(dilation) != 2 or min(dilation) < 1:
        _fail(op, f"dilation must be two values >= 1, got {list(dilation)}")
    if len(padding) != 2 or min(padding) < 0:
        _fail(op, f"padding must be two values >= 0, got {list(padding)}")


def check_conv(op, x, weight, bias, stride, padding, dilation, groups=1):
    """Validate the conv inputs; return the output size ``(Hout, Wout)``."""
    _check_pair(op, x, weight, "(B, Cout, Cin, kH, kW)" if groups == 1 else "(B, Cout, Cin / groups, kH, kW)")
    B, Cin, H, W = x.shape
    Cout, kH, kW = weight.shape[1], weight.shape[3], weight.shape[4]
    _check_groups(op, groups, Cin, Cout, "weight.shape[1]")
    if groups == 1 and weight.shape[2] != Cin:
        _fail(op, f"weight input channels must match x, expected weight.shape[2] == {Cin}, got {weight.shape[2]}")
    if groups != 1 and weight.shape[2] != Cin // groups:
        _fail(op, f"weight input channels must be Cin / groups, expected weight.shape[2] == {Cin} / {groups} = {Cin // groups}, got {weight.shape[2]}")
    _check_window(op, Cin, Cout, kH, kW, stride, padding, dilation)
    if bias is not None:
        check_like(op, "bias", bias, x, (B, Cout))
    Hout = (H + 2 * padding[0] - dilation[0] * (kH - 1) - 1) // stride[0] + 1
    Wout = (W + 2 * padding[1] - dilation[1] * (kW - 1) - 1) // stride[1] + 1
    if Hout < 1 or Wout < 1:
        _fail(
            op,
            f"output size must be at least 1x1, got {Hout}x{Wout} for input {H}x{W}, kernel {kH}x{kW}, "
            f"padding {list(padding)}, dilation {list(dilation)}, stride {list(stride)}",
        )
    return Hout, Wout


def check_conv_transpose(x, weight, bias, stride, padding, output_padding, dilation, groups):
    """Validate the transposed conv inputs; return its output shape (csrc/checks.cpp: check_conv_transpose_inputs)."""
    op = "dynamic_conv_transpose2d"
    _check_pair(op, x, weight, "(B, Cin, Cout / groups, kH, kW)")
    B, Cin, H, W = x.shape
    Cout, kH, kW = weight.shape[2] * groups, weight.shape[3], weight.shape[4]
    if weight.shape[1] != Cin:
        _fail(op, f"weight input channels must match x, expected weight.shape[1] == {Cin}, got {weight.shape[1]}")
    _check_groups(op, groups, Cin, Cout, "Cout")
    _check_window(op, Cout, Cin, kH, kW, stride, padding, dilation)
    if len(output_padding) != 2 or min(output_padding) < 0 or any(o >= s for o, s in zip(output_padding, stride)):
        _fail(op, f"output_padding must be two values >= 0 and smaller than stride, expected < {list(stride)}, "
                  f"got {list(output_padding)}")
    Hout = (H - 1) * stride[0] - 2 * padding[0] + dilation[0] * (kH - 1) + output_padding[0] + 1
    Wout = (W - 1) * stride[1] - 2 * padding[1] + dilation[1] * (kW - 1) + output_padding[1] + 1
    if Hout < 1 or Wout < 1:
        _fail(op, f"output size must be at least 1x1, got {Hout}x{Wout} for input {H}x{W}, kernel {kH}x{kW}, "
                  f"padding {list(padding)}, output_padding {list(output_padding)}, dilation {list(dilation)}, "
                  f"stride {list(stride)}")
    if bias is not None:
        check_like(op, "bias", bias, x, (B, Cout))
    return (B, Cout, Hout, Wout)


def check_norm_act(op, x, weight, scale, shift, norm, activation):
    """Validate the normalization/affine inputs; return the statistics width G."""
    B, Cout = weight.shape[0], weight.shape[1]
    check_like(op, "scale", scale, x, (B, Cout))
    check_like(op, "shift", shift, x, (B, Cout))
    if norm not in NORMS:
        _fail(op, f"norm must be one of {', '.join(NORMS)}, got '{norm}'")
    if activation not in ACTIVATIONS:
        _fail(op, f"activation must be one of {', '.join(ACTIVATIONS)}, got '{activation}'")
    return {"layer": 1, "instance": Cout, "none": 0}[norm]


def empty_grad(t: torch.Tensor) -> torch.Tensor:
    """What a backward op returns for a gradient it was told to skip."""
    return t.new_empty((0,))
