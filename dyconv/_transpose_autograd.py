"""Autograd of ``dynamic_conv_transpose2d``, written with the conv ops.

The transposed convolution ``y = conv_transpose(x, w)`` is the input gradient of
``conv(., w)``, so its own gradients are convolutions the library already has:

    grad_x = dynamic_conv2d(grad_y, w)                          (the conv it transposes)
    grad_w = dynamic_conv2d_backward(x, grad_y, w)'s weight part (x plays the output gradient)
    grad_b = grad_y summed over (H, W)

Both ops are differentiable to any order (``dyconv/_autograd.py``), so this
backward is too: no backward op of its own.
"""
from __future__ import annotations

import torch

_ops = torch.ops.dyconv


def _setup_context(ctx, inputs, output):
    x, weight, bias, stride, padding, output_padding, dilation, groups = inputs
    ctx.save_for_backward(x, weight)
    ctx.has_bias = bias is not None
    ctx.params = (stride, padding, dilation)
    ctx.groups = groups


def _backward(ctx, grad_out):
    x, weight = ctx.saved_tensors
    need_x, need_w, need_b = ctx.needs_input_grad[:3]
    grad_x = grad_w = grad_b = None
    if need_x:
        grad_x = _ops.dynamic_conv2d(grad_out, weight, None, *ctx.params, ctx.groups)
    if need_w:
        grad_w = _ops.dynamic_conv2d_backward(x, grad_out, weight, *ctx.params, [False, True, False], ctx.groups)[1]
    if need_b and ctx.has_bias:
        grad_b = grad_out.sum((2, 3))
    return grad_x, grad_w, grad_b, None, None, None, None, None


torch.library.register_autograd(
    "dyconv::dynamic_conv_transpose2d", _backward, setup_context=_setup_context
)
