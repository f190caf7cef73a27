"""Autograd of the ops: each forward op's backward is its own op (``*_backward``).

Second order: ``dynamic_conv2d_backward`` is linear in each of its inputs and
has its own autograd formula below (written with the ops themselves, so it is
differentiable to any order). ``dynamic_conv_norm_act_backward`` is a fast
kernel without one: when the backward must build a graph (``create_graph=True``)
the fused op differentiates its composite form instead (``dyconv/_composite.py``),
and calling autograd through the backward op directly is an error.
"""
from __future__ import annotations

import torch

from dyconv import _composite

_ops = torch.ops.dyconv


def _conv_setup_context(ctx, inputs, output):
    x, weight, bias, stride, padding, dilation, groups = inputs
    ctx.save_for_backward(x, weight)
    ctx.has_bias = bias is not None
    ctx.params = (stride, padding, dilation)
    ctx.groups = groups


def _conv_backward(ctx, grad_out):
    x, weight = ctx.saved_tensors
    need_x, need_w, need_b = ctx.needs_input_grad[:3]
    mask = [need_x, need_w, ctx.has_bias and need_b]
    grad_x, grad_w, grad_b = _ops.dynamic_conv2d_backward(grad_out, x, weight, *ctx.params, mask, ctx.groups)
    return (
        grad_x if mask[0] else None,
        grad_w if mask[1] else None,
        grad_b if mask[2] else None,
        None,
        None,
        None,
        None,
    )


def _conv_backward_setup_context(ctx, inputs, output):
    grad_out, x, weight, stride, padding, dilation, output_mask, groups = inputs
    ctx.save_for_backward(grad_out, x, weight)
    ctx.params = (stride, padding, dilation)
    ctx.groups = groups
    ctx.output_mask = tuple(output_mask)
    # Gradients of outputs nobody used stay None (no zero tensors to convolve).
    ctx.set_materialize_grads(False)


def _conv_backward_backward(ctx, gg_x, gg_w, gg_b):
    """Derivative of (grad_x, grad_w, grad_b) = dynamic_conv2d_backward(grad_out, x, weight).

    grad_x is linear in (grad_out, weight), grad_w in (grad_out, x), grad_b in
    grad_out. With upstream gradients gg_x, gg_w, gg_b:
      d grad_out = conv(gg_x, weight) + conv(x, gg_w) + gg_b
      d x        = grad_x of the backward op with weight := gg_w
      d weight   = grad_w of the backward op with x := gg_x
    """
    grad_out, x, weight = ctx.saved_tensors
    params, groups = ctx.params, ctx.groups
    # Outputs that output_mask skipped are empty placeholders: no gradient flows through them.
    gg_x, gg_w, gg_b = (g if m else None for g, m in zip((gg_x, gg_w, gg_b), ctx.output_mask))
    need_go, need_x, need_w = ctx.needs_input_grad[:3]
    d_go = d_x = d_w = None
    if need_go:
        terms = []
        if gg_x is not None:
            terms.append(_ops.dynamic_conv2d(gg_x, weight, None, *params, groups))
        if gg_w is not None:
            terms.append(_ops.dynamic_conv2d(x, gg_w, gg_b, *params, groups))
        elif gg_b is not None:
            terms.append(gg_b[:, :, None, None].expand(grad_out.shape))
        if terms:
            d_go = terms[0] if len(terms) == 1 else terms[0] + terms[1]
    if need_x and gg_w is not None:
        d_x = _ops.dynamic_conv2d_backward(grad_out, x, gg_w, *params, [True, False, False], groups)[0]
    if need_w and gg_x is not None:
        d_w = _ops.dynamic_conv2d_backward(grad_out, gg_x, weight, *params, [False, True, False], groups)[1]
    return d_go, d_x, d_w, None, None, None, None, None


def _fused_setup_context(ctx, inputs, output):
    x, weight, scale, shift, stride, padding, dilation, norm, activation, eps, groups = inputs
    _, conv_out, mean, rstd = output
    ctx.mark_non_differentiable(conv_out, mean, rstd)
    # Their gradients are never used: no zero tensors of the output's size for them.
    ctx.set_materialize_grads(False)
    ctx.save_for_backward(x, weight, scale, shift, conv_out, mean, rstd)
    ctx.params = (stride, padding, dilation, norm, activation)
    ctx.eps = eps
    ctx.groups = groups


def _fused_backward(ctx, grad_out, _grad_conv_out, _grad_mean, _grad_rstd):
    mask = list(ctx.needs_input_grad[:4])
    if grad_out is None:
        return (None,) * 11
    if torch.is_grad_enabled():
        # create_graph=True: the gradients need a graph of their own; the fast
        # kernel has none, so differentiate the composite form (same values).
        grads = _composite.differentiable_backward(
            grad_out, ctx.saved_tensors[:4], mask, (*ctx.params, ctx.eps, ctx.groups)
        )
        return grads + (None,) * 7
    grads = _ops.dynamic_conv_norm_act_backward(grad_out, *ctx.saved_tensors, *ctx.params, mask, ctx.groups)
    return tuple(g if m else None for g, m in zip(grads, mask)) + (None,) * 7


def _fused_backward_has_no_derivative(ctx, *grads):
    raise RuntimeError(
        "dyconv::dynamic_conv_norm_act_backward has no derivative of its own: expected it to be "
        "reached only through autograd of dynamic_conv_norm_act, got a backward through a direct "
        "call. For second-order gradients call dyconv.dynamic_conv_norm_act and use "
        "torch.autograd.grad(..., create_graph=True): its backward is then differentiable"
    )


def _no_setup(ctx, inputs, output):
    pass


torch.library.register_autograd(
    "dyconv::dynamic_conv2d", _conv_backward, setup_context=_conv_setup_context
)
torch.library.register_autograd(
    "dyconv::dynamic_conv2d_backward", _conv_backward_backward, setup_context=_conv_backward_setup_context
)
torch.library.register_autograd(
    "dyconv::dynamic_conv_norm_act", _fused_backward, setup_context=_fused_setup_context
)
torch.library.register_autograd(
    "dyconv::dynamic_conv_norm_act_backward", _fused_backward_has_no_derivative, setup_context=_no_setup
)
