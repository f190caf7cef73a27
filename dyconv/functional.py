"""The public functions: parse the Python-level arguments, then call the ops."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from dyconv import _composite, _transforms
from dyconv._args import ACTIVATIONS, NORMS, check_choice, check_eps, check_groups, conv_params, pair
from dyconv._backend import check_device
from dyconv._checks import check_conv, check_norm_act


def check_tensors(op, x, weight, weight_layout, x_layout="(B, Cin, H, W)"):
    """x and weight are tensors of the right rank (that of their layouts); x's device has kernels."""
    for name, t, layout in (("x", x, x_layout), ("weight", weight, weight_layout)):
        dims = layout.count(",") + 1
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{op}: {name} must be a torch.Tensor, got {type(t).__name__}")
        if t.dim() != dims:  # the kernel size is needed below; same message as the op's
            raise RuntimeError(f"{op}: {name} must be a {dims}-D tensor {layout}, expected {dims} dims, got {t.dim()}")
    check_device(op, x)


def _prepare(op, x, weight, stride, padding, dilation, groups=1):
    """Parse the geometry arguments; returns them as the op takes them."""
    check_tensors(op, x, weight, "(B, Cout, Cin, kH, kW)" if groups == 1 else "(B, Cout, Cin / groups, kH, kW)")
    stride, padding, dilation, extra = conv_params(weight.shape[3:], stride, padding, dilation)
    if any(extra):  # "same" with an odd total padding: F.conv2d pads the far side one more
        x = F.pad(x, (0, extra[1], 0, extra[0]))
    return x, list(stride), list(padding), list(dilation)


def dynamic_conv2d(x, weight, bias=None, *, stride=1, padding=0, dilation=1, groups=1):
    """Per-sample 2-D convolution: ``out[b] = F.conv2d(x[b:b+1], weight[b], bias[b], groups=groups)``.

    Args:
        x: ``(B, Cin, H, W)`` input.
        weight: ``(B, Cout, Cin // groups, kH, kW)``; sample ``b`` is convolved with ``weight[b]``.
        bias: ``(B, Cout)`` or ``None``.
        stride, dilation: int or ``(int, int)``, >= 1.
        padding: int, ``(int, int)``, ``"same"`` (stride 1 only) or ``"valid"``.
        groups: as in ``F.conv2d``: Cin and Cout divisible by it, output channel group ``j`` sees
            input channel group ``j``; ``groups == Cin`` is a depthwise convolution.

    Returns ``(B, Cout, Hout, Wout)`` with the output size of ``F.conv2d``.
    """
    groups = check_groups(groups)
    x, stride, padding, dilation = _prepare("dynamic_conv2d", x, weight, stride, padding, dilation, groups)
    return _transforms.conv(x, weight, bias, stride, padding, dilation, groups)


def dynamic_conv_norm_act(
    x, weight, scale, shift, *, stride=1, padding="same", dilation=1,
    norm="layer", activation="relu", eps=1e-5, groups=1,
):
    """Fused per-sample convolution, normalization, affine and activation.

    ``y = dynamic_conv2d(x, weight, groups=groups)``; ``y`` is normalized to zero mean and unit
    (biased) variance over ``(C, H, W)`` of each sample (``norm="layer"``), over
    ``(H, W)`` of each sample and channel (``"instance"``) or not at all
    (``"none"``); then ``y * scale[b, c] + shift[b, c]`` goes through the
    activation (``"relu"``, ``"sigmoid"`` or ``"none"``).

    Args:
        scale, shift: ``(B, Cout)`` per-sample affine.
        eps: added to the variance.
        groups: of the convolution, as in :func:`dynamic_conv2d` (the norm is the same whatever it is).

    Returns ``(B, Cout, Hout, Wout)``.
    """
    check_choice("norm", norm, NORMS)
    check_choice("activation", activation, ACTIVATIONS)
    eps = check_eps(eps)
    groups = check_groups(groups)
    x, stride, padding, dilation = _prepare("dynamic_conv_norm_act", x, weight, stride, padding, dilation, groups)
    if _transforms.active():  # torch.func / forward-mode AD: the composite form, differentiable in every mode
        check_conv("dynamic_conv_norm_act", x, weight, None, stride, padding, dilation, groups)
        check_norm_act("dynamic_conv_norm_act", x, weight, scale, shift, norm, activation)
        return _composite.conv_norm_act(
            x, weight, scale, shift, stride, padding, dilation, norm, activation, eps, groups)
    out, _, _, _ = torch.ops.dyconv.dynamic_conv_norm_act(
        x, weight, scale, shift, stride, padding, dilation, norm, activation, eps, groups
    )
    return out


def dynamic_conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Per-sample transposed convolution: ``out[b] = F.conv_transpose2d(x[b:b+1], weight[b], bias[b], ...)``.

    The arguments are those of ``F.conv_transpose2d``, in its order, with one
    filter bank per sample:

    Args:
        x: ``(B, Cin, H, W)`` input.
        weight: ``(B, Cin, Cout // groups, kH, kW)``.
        bias: ``(B, Cout)`` or ``None``.
        stride, dilation: int or ``(int, int)``, >= 1.
        padding: int or ``(int, int)``, >= 0 (removed from each side of the output).
        output_padding: int or ``(int, int)``, added to one side of the output; smaller than stride.
        groups: Cin and Cout divisible by it.

    Returns ``(B, Cout, Hout, Wout)``, ``Hout = (H - 1) * stride - 2 * padding + dilation * (kH - 1)
    + output_padding + 1``. It is the adjoint of :func:`dynamic_conv2d` with the same weight
    (the gradient of a strided convolution with respect to its input): ``up=2`` layers of StyleGAN.
    """
    op = "dynamic_conv_transpose2d"
    check_tensors(op, x, weight, "(B, Cin, Cout / groups, kH, kW)")
    groups = check_groups(groups)
    stride, dilation = pair("stride", stride), pair("dilation", dilation)
    padding, output_padding = pair("padding", padding), pair("output_padding", output_padding)
    return _transforms.conv_transpose(
        x, weight, bias, list(stride), list(padding), list(output_padding), list(dilation), groups
    )
