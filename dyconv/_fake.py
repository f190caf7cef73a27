"""Fake (meta) kernels: output shapes for torch.compile and FakeTensorMode."""
from __future__ import annotations

import torch
from torch._prims_common import suggest_memory_format

from dyconv._checks import check_conv, check_conv_transpose, check_like, check_norm_act, empty_grad


def _format(x):
    """The memory format of the ops' output and input gradient: x's (csrc/outputs.h, in_format_of)."""
    return suggest_memory_format(x)


def _new_output(x, shape):
    return torch.empty(shape, dtype=x.dtype, device=x.device, memory_format=_format(x))


@torch.library.register_fake("dyconv::dynamic_conv2d")
def _dynamic_conv2d_fake(x, weight, bias, stride, padding, dilation, groups=1):
    Hout, Wout = check_conv("dynamic_conv2d", x, weight, bias, stride, padding, dilation, groups)
    return _new_output(x, (x.shape[0], weight.shape[1], Hout, Wout))


@torch.library.register_fake("dyconv::dynamic_conv2d_backward")
def _dynamic_conv2d_backward_fake(grad_out, x, weight, stride, padding, dilation, output_mask, groups=1):
    Hout, Wout = check_conv("dynamic_conv2d_backward", x, weight, None, stride, padding, dilation, groups)
    check_like("dynamic_conv2d_backward", "grad_out", grad_out, x, (x.shape[0], weight.shape[1], Hout, Wout))
    grad_x = torch.empty_like(x, memory_format=_format(x)) if output_mask[0] else empty_grad(x)
    grad_w = torch.empty_like(weight, memory_format=torch.contiguous_format) if output_mask[1] else empty_grad(x)
    grad_b = x.new_empty(weight.shape[:2]) if output_mask[2] else empty_grad(x)
    return grad_x, grad_w, grad_b


@torch.library.register_fake("dyconv::dynamic_conv_norm_act")
def _dynamic_conv_norm_act_fake(x, weight, scale, shift, stride, padding, dilation, norm, activation, eps,
                                groups=1):
    op = "dynamic_conv_norm_act"
    Hout, Wout = check_conv(op, x, weight, None, stride, padding, dilation, groups)
    groups = check_norm_act(op, x, weight, scale, shift, norm, activation)
    shape = (x.shape[0], weight.shape[1], Hout, Wout)
    stats = (x.shape[0], groups)
    return _new_output(x, shape), x.new_empty(shape), x.new_empty(stats), x.new_empty(stats)


@torch.library.register_fake("dyconv::dynamic_conv_norm_act_backward")
def _dynamic_conv_norm_act_backward_fake(
    grad_out, x, weight, scale, shift, conv_out, mean, rstd,
    stride, padding, dilation, norm, activation, output_mask, groups=1,
):
    op = "dynamic_conv_norm_act_backward"
    Hout, Wout = check_conv(op, x, weight, None, stride, padding, dilation, groups)
    groups = check_norm_act(op, x, weight, scale, shift, norm, activation)
    shape = (x.shape[0], weight.shape[1], Hout, Wout)
    check_like(op, "grad_out", grad_out, x, shape)
    check_like(op, "conv_out", conv_out, x, shape)
    check_like(op, "mean", mean, x, (x.shape[0], groups))
    check_like(op, "rstd", rstd, x, (x.shape[0], groups))
    grad_x = torch.empty_like(x, memory_format=_format(x)) if output_mask[0] else empty_grad(x)
    grad_w = torch.empty_like(weight, memory_format=torch.contiguous_format) if output_mask[1] else empty_grad(x)
    grad_scale = torch.empty_like(scale, memory_format=torch.contiguous_format) if output_mask[2] else empty_grad(x)
    grad_shift = torch.empty_like(shift, memory_format=torch.contiguous_format) if output_mask[3] else empty_grad(x)
    return grad_x, grad_w, grad_scale, grad_shift


@torch.library.register_fake("dyconv::dynamic_conv_transpose2d")
def _dynamic_conv_transpose2d_fake(x, weight, bias, stride, padding, output_padding, dilation, groups=1):
    shape = check_conv_transpose(x, weight, bias, stride, padding, output_padding, dilation, groups)
    return _new_output(x, shape)
