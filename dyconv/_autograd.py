"""Autograd for the forward ops: each backward is its own op (``*_backward``)."""
from __future__ import annotations

import torch


def _conv_setup_context(ctx, inputs, output):
    x, weight, bias, stride, padding, dilation = inputs
    ctx.save_for_backward(x, weight)
    ctx.has_bias = bias is not None
    ctx.params = (stride, padding, dilation)


def _conv_backward(ctx, grad_out):
    x, weight = ctx.saved_tensors
    need_x, need_w, need_b = ctx.needs_input_grad[:3]
    mask = [need_x, need_w, ctx.has_bias and need_b]
    grad_x, grad_w, grad_b = torch.ops.dyconv.dynamic_conv2d_backward(
        grad_out, x, weight, *ctx.params, mask
    )
    return (
        grad_x if mask[0] else None,
        grad_w if mask[1] else None,
        grad_b if mask[2] else None,
        None,
        None,
        None,
    )


def _fused_setup_context(ctx, inputs, output):
    x, weight, scale, shift, stride, padding, dilation, norm, activation, eps = inputs
    _, conv_out, mean, rstd = output
    ctx.mark_non_differentiable(conv_out, mean, rstd)
    # Their gradients are never used: no zero tensors of the output's size for them.
    ctx.set_materialize_grads(False)
    ctx.save_for_backward(x, weight, scale, shift, conv_out, mean, rstd)
    ctx.params = (stride, padding, dilation, norm, activation)


def _fused_backward(ctx, grad_out, _grad_conv_out, _grad_mean, _grad_rstd):
    mask = list(ctx.needs_input_grad[:4])
    if grad_out is None:
        return (None,) * 10
    grads = torch.ops.dyconv.dynamic_conv_norm_act_backward(
        grad_out, *ctx.saved_tensors, *ctx.params, mask
    )
    return tuple(g if m else None for g, m in zip(grads, mask)) + (None,) * 6


torch.library.register_autograd(
    "dyconv::dynamic_conv2d", _conv_backward, setup_context=_conv_setup_context
)
torch.library.register_autograd(
    "dyconv::dynamic_conv_norm_act", _fused_backward, setup_context=_fused_setup_context
)
