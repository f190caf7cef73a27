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


def check_conv(op, x, weight, bias, stride, padding, dilation):
    """Validate the conv inputs; return the output size ``(Hout, Wout)``."""
    if x.dim() != 4:
        _fail(op, f"x must be a 4-D tensor (B, Cin, H, W), expected 4 dims, got {x.dim()}")
    if weight.dim() != 5:
        _fail(op, f"weight must be a 5-D tensor (B, Cout, Cin, kH, kW), expected 5 dims, got {weight.dim()}")
    if not x.dtype.is_floating_point:
        _fail(op, f"x must have a floating point dtype, expected float32 or float64, got {x.dtype}")
    if weight.dtype != x.dtype:
        _fail(op, f"weight must have the dtype of x, expected {x.dtype}, got {weight.dtype}")
    if weight.device != x.device:
        _fail(op, f"weight must be on the device of x, expected {x.device}, got {weight.device}")
    B, Cin, H, W = x.shape
    if weight.shape[0] != B:
        _fail(op, f"weight must have one filter bank per sample, expected weight.shape[0] == {B} (the batch of x), got {weight.shape[0]}")
    if weight.shape[2] != Cin:
        _fail(op, f"weight input channels must match x, expected weight.shape[2] == {Cin}, got {weight.shape[2]}")
    Cout, kH, kW = weight.shape[1], weight.shape[3], weight.shape[4]
    if Cout < 1 or Cin < 1 or kH < 1 or kW < 1:
        _fail(op, f"channels and kernel sizes must be >= 1, got Cin={Cin}, Cout={Cout}, kernel=({kH}, {kW})")
    if bias is not None:
        check_like(op, "bias", bias, x, (B, Cout))
    if len(stride) != 2 or min(stride) < 1:
        _fail(op, f"stride must be two values >= 1, got {list(stride)}")
    if len(dilation) != 2 or min(dilation) < 1:
        _fail(op, f"dilation must be two values >= 1, got {list(dilation)}")
    if len(padding) != 2 or min(padding) < 0:
        _fail(op, f"padding must be two values >= 0, got {list(padding)}")
    Hout = (H + 2 * padding[0] - dilation[0] * (kH - 1) - 1) // stride[0] + 1
    Wout = (W + 2 * padding[1] - dilation[1] * (kW - 1) - 1) // stride[1] + 1
    if Hout < 1 or Wout < 1:
        _fail(
            op,
            f"output size must be at least 1x1, got {Hout}x{Wout} for input {H}x{W}, kernel {kH}x{kW}, "
            f"padding {list(padding)}, dilation {list(dilation)}, stride {list(stride)}",
        )
    return Hout, Wout


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
