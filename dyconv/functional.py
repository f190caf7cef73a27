"""The public functions: parse the Python-level arguments, then call the ops."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from dyconv import _composite, _transforms
from dyconv._args import ACTIVATIONS, NORMS, check_choice, check_eps, conv_params
from dyconv._backend import check_device
from dyconv._checks import check_conv, check_norm_act


def _prepare(op, x, weight, stride, padding, dilation):
    """Parse the geometry arguments; returns them as the op takes them."""
    for name, t, dims, layout in (("x", x, 4, "(B, Cin, H, W)"), ("weight", weight, 5, "(B, Cout, Cin, kH, kW)")):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{op}: {name} must be a torch.Tensor, got {type(t).__name__}")
        if t.dim() != dims:  # the kernel size is needed below; same message as the op's
            raise RuntimeError(f"{op}: {name} must be a {dims}-D tensor {layout}, expected {dims} dims, got {t.dim()}")
    check_device(op, x)
    if x.device.type == "cpu" and x.dtype in (torch.float16, torch.bfloat16) and not torch.is_autocast_enabled("cpu"):
        raise RuntimeError(
            f"{op}: the CPU kernels compute in float32 or float64, expected x of one of them, got {x.dtype}; "
            f"cast the inputs with .float(), or call it under torch.autocast('cpu', dtype={x.dtype}), "
            "which runs it in float32"
        )
    stride, padding, dilation, extra = conv_params(weight.shape[3:], stride, padding, dilation)
    if any(extra):  # "same" with an odd total padding: F.conv2d pads the far side one more
        x = F.pad(x, (0, extra[1], 0, extra[0]))
    return x, list(stride), list(padding), list(dilation)


def dynamic_conv2d(x, weight, bias=None, *, stride=1, padding=0, dilation=1):
    """Per-sample 2-D convolution: ``out[b] = F.conv2d(x[b:b+1], weight[b], bias[b])``.

    Args:
        x: ``(B, Cin, H, W)`` input.
        weight: ``(B, Cout, Cin, kH, kW)``; sample ``b`` is convolved with ``weight[b]``.
        bias: ``(B, Cout)`` or ``None``.
        stride, dilation: int or ``(int, int)``, >= 1.
        padding: int, ``(int, int)``, ``"same"`` (stride 1 only) or ``"valid"``.

    Returns ``(B, Cout, Hout, Wout)`` with the output size of ``F.conv2d``.
    """
    x, stride, padding, dilation = _prepare("dynamic_conv2d", x, weight, stride, padding, dilation)
    return _transforms.conv(x, weight, bias, stride, padding, dilation)


def dynamic_conv_norm_act(
    x, weight, scale, shift, *, stride=1, padding="same", dilation=1,
    norm="layer", activation="relu", eps=1e-5,
):
    """Fused per-sample convolution, normalization, affine and activation.

    ``y = dynamic_conv2d(x, weight)``; ``y`` is normalized to zero mean and unit
    (biased) variance over ``(C, H, W)`` of each sample (``norm="layer"``), over
    ``(H, W)`` of each sample and channel (``"instance"``) or not at all
    (``"none"``); then ``y * scale[b, c] + shift[b, c]`` goes through the
    activation (``"relu"``, ``"sigmoid"`` or ``"none"``).

    Args:
        scale, shift: ``(B, Cout)`` per-sample affine.
        eps: added to the variance.

    Returns ``(B, Cout, Hout, Wout)``.
    """
    check_choice("norm", norm, NORMS)
    check_choice("activation", activation, ACTIVATIONS)
    eps = check_eps(eps)
    x, stride, padding, dilation = _prepare("dynamic_conv_norm_act", x, weight, stride, padding, dilation)
    if _transforms.active():  # torch.func / forward-mode AD: the composite form, differentiable in every mode
        check_conv("dynamic_conv_norm_act", x, weight, None, stride, padding, dilation)
        check_norm_act("dynamic_conv_norm_act", x, weight, scale, shift, norm, activation)
        return _composite.conv_norm_act(x, weight, scale, shift, stride, padding, dilation, norm, activation, eps)
    out, _, _, _ = torch.ops.dyconv.dynamic_conv_norm_act(
        x, weight, scale, shift, stride, padding, dilation, norm, activation, eps
    )
    return out
