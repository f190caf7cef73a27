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
from torch._prims_common import suggest_memory_format

from dyconv import _formulas
from dyconv._autograd import _OPS


def _setup_context(ctx, inputs, output):
    x, weight, bias, stride, padding, output_padding, dilation, groups = inputs
    ctx.save_for_backward(x, weight)
    ctx.has_bias = bias is not None
    ctx.params = (stride, padding, dilation, groups)  # of the conv it transposes


def _backward(ctx, grad_out):
    x, weight = ctx.saved_tensors
    grad_x, grad_w, grad_b = _formulas.conv_transpose_backward(_OPS, x, weight, grad_out, ctx.params,
                                                               ctx.needs_input_grad[:3], ctx.has_bias)
    if grad_x is not None:  # the conv returns grad_out's memory format; the gradient keeps x's
        grad_x = grad_x.contiguous(memory_format=suggest_memory_format(x))
    return grad_x, grad_w, grad_b, *(None,) * 5


torch.library.register_autograd(
    "dyconv::dynamic_conv_transpose2d", _backward, setup_context=_setup_context
)
