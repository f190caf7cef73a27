"""Autograd of the ops: each forward op's backward is its own op (``*_backward``).

Second order: ``dynamic_conv2d_backward`` is linear in each of its inputs and
has its own autograd formula (``dyconv/_formulas.py``, here with the ops
themselves, so it is differentiable to any order). ``dynamic_conv_norm_act_backward`` is a fast
kernel without one: when the backward must build a graph (``create_graph=True``)
the fused op differentiates its composite form instead (``dyconv/_composite.py``),
and calling autograd through the backward op directly is an error.

This is reverse mode only. Forward-mode AD and torch.func transforms reach the
ops through the public functions, which then run ``dyconv/_transforms.py``; a
direct call of an op with a forward-mode tangent raises (the generated autograd
would drop the tangent without a word).
"""
from __future__ import annotations

import torch
import torch.autograd.forward_ad as fwAD

from dyconv import _composite, _formulas

_ops = torch.ops.dyconv
_OPS = _formulas.ConvOps(
    _ops.dynamic_conv2d,
    # the op takes groups after output_mask (it came later, with a default)
    lambda grad_out, x, weight, stride, padding, dilation, groups, mask: _ops.dynamic_conv2d_backward(
        grad_out, x, weight, stride, padding, dilation, mask, groups),
)


def _conv_setup_context(ctx, inputs, output):
    x, weight, bias, stride, padding, dilation, groups = inputs
    ctx.save_for_backward(x, weight)
    ctx.has_bias = bias is not None
    ctx.params = (stride, padding, dilation, groups)


def _conv_backward(ctx, grad_out):
    x, weight = ctx.saved_tensors
    need_x, need_w, need_b = ctx.needs_input_grad[:3]
    mask = [need_x, need_w, ctx.has_bias and need_b]
    grad_x, grad_w, grad_b = _OPS.conv_backward(grad_out, x, weight, *ctx.params, mask)
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
    ctx.params = (stride, padding, dilation, groups)
    ctx.output_mask = tuple(output_mask)
    # Gradients of outputs nobody used stay None (no zero tensors to convolve).
    ctx.set_materialize_grads(False)


def _conv_backward_backward(ctx, gg_x, gg_w, gg_b):
    """Derivative of (grad_x, grad_w, grad_b) = dynamic_conv2d_backward(grad_out, x, weight)."""
    return _formulas.conv_backward_backward(
        _OPS, ctx.saved_tensors, ctx.params, ctx.output_mask, (gg_x, gg_w, gg_b), ctx.needs_input_grad[:3]
    ) + (None,) * 5


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


_PUBLIC = {"dynamic_conv2d": "dyconv.dynamic_conv2d", "dynamic_conv_norm_act": "dyconv.dynamic_conv_norm_act",
           "dynamic_conv_transpose2d": "dyconv.dynamic_conv_transpose2d"}
_lib = torch.library.Library("dyconv", "IMPL")


def _refuse_forward_ad(name):
    """An ADInplaceOrView kernel (below autograd, where the tangents are still attached) that raises
    when an input carries a forward-mode tangent, and otherwise passes the call on."""
    op = getattr(_ops, name).default
    public = _PUBLIC.get(name.removesuffix("_backward"))

    def kernel(keyset, *args):
        if fwAD._current_level >= 0 and any(
            isinstance(a, torch.Tensor) and fwAD.unpack_dual(a).tangent is not None for a in args
        ):
            raise RuntimeError(
                f"dyconv::{name}: forward-mode AD through a direct call of the op is not supported, expected "
                f"the call to go through {public} (forward-mode AD and torch.func work there), got an input "
                "with a forward-mode tangent")
        return op.redispatch(keyset & torch._C._after_ADInplaceOrView_keyset, *args)

    _lib.impl(name, kernel, "ADInplaceOrView", with_keyset=True)


for _name in ("dynamic_conv2d", "dynamic_conv2d_backward", "dynamic_conv_norm_act", "dynamic_conv_norm_act_backward",
              "dynamic_conv_transpose2d"):
    _refuse_forward_ad(_name)
