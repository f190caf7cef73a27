"""The ops under torch.func transforms and forward-mode AD, as autograd.Functions.

``torch.library.register_autograd`` (``dyconv/_autograd.py``) gives the ops
reverse-mode autograd, which is all that eager training, ``torch.compile`` and
``torch.export`` use. It has no forward-mode formula and its generated
autograd.Function no ``setup_context``, so ``torch.func`` refuses it
(``grad``, ``jacrev``, ``vmap(grad)``) or, under forward-mode AD, drops the
tangent. While a transform or a dual level is active, the public functions run
through the Functions below instead: ``Conv`` and ``ConvBackward`` wrap the
same ops with ``setup_context``, a backward, a ``jvp`` and a ``vmap`` rule, each
written with the Functions themselves, so they compose to any order
(``hessian``, ``jvp(grad)``, ``vmap(grad)``). The fused op runs as its composite
form (``dyconv/_composite.py``) on ``Conv``, the way its double backward does.
Outside transforms nothing here runs: first-order speed is the ops'.
"""
from __future__ import annotations

import torch
import torch.autograd.forward_ad as fwAD

from dyconv import _formulas

_ops = torch.ops.dyconv


def active() -> bool:
    """Whether a torch.func transform or a forward-mode AD level is active (cheap: two global reads)."""
    return torch._C._functorch.maybe_current_level() is not None or fwAD._current_level >= 0


def _fold(info, in_dims, tensors):
    """Move each tensor's vmapped dim to the front (expanding unbatched ones) and merge it into the batch."""
    out = []
    for t, d in zip(tensors, in_dims):
        if t is None:
            out.append(None)
            continue
        t = t.unsqueeze(0).expand(info.batch_size, *t.shape) if d is None else t.movedim(d, 0)
        out.append(t.flatten(0, 1))
    return out


def _unfold(info, t):
    return t.unflatten(0, (info.batch_size, -1))


class Conv(torch.autograd.Function):
    """``dynamic_conv2d`` (op arguments: padding already parsed)."""

    @staticmethod
    def forward(x, weight, bias, stride, padding, dilation, groups):
        return _ops.dynamic_conv2d(x, weight, bias, stride, padding, dilation, groups)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, weight, bias, *params = inputs
        ctx.save_for_backward(x, weight)
        ctx.save_for_forward(x, weight)
        ctx.has_bias = bias is not None
        ctx.params = params
        ctx.out_shape = output.shape

    @staticmethod
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        mask = [ctx.needs_input_grad[0], ctx.needs_input_grad[1], ctx.has_bias and ctx.needs_input_grad[2]]
        grads = ConvBackward.apply(grad_out, x, weight, *ctx.params, mask)
        return tuple(g if m else None for g, m in zip(grads, mask)) + (None,) * 4

    @staticmethod
    def jvp(ctx, x_t, w_t, b_t, *_):
        x, weight = ctx.saved_tensors
        return _formulas.conv_tangent(_CONV, x, weight, x_t, w_t, b_t, ctx.params, ctx.out_shape)

    @staticmethod
    def vmap(info, in_dims, x, weight, bias, stride, padding, dilation, groups):
        x, weight, bias = _fold(info, in_dims[:3], (x, weight, bias))
        return _unfold(info, Conv.apply(x, weight, bias, stride, padding, dilation, groups)), 0


class ConvBackward(torch.autograd.Function):
    """``dynamic_conv2d_backward``: (grad_x, grad_w, grad_b); outputs ``output_mask`` skips are empty.

    Arguments in the order of ``_formulas.ConvOps.conv_backward`` (groups before output_mask).
    """

    @staticmethod
    def forward(grad_out, x, weight, stride, padding, dilation, groups, output_mask):
        return _ops.dynamic_conv2d_backward(grad_out, x, weight, stride, padding, dilation, output_mask, groups)

    @staticmethod
    def setup_context(ctx, inputs, output):
        grad_out, x, weight, *params, output_mask = inputs
        ctx.save_for_backward(grad_out, x, weight)
        ctx.save_for_forward(grad_out, x, weight)
        ctx.params = params
        ctx.output_mask = tuple(output_mask)
        ctx.set_materialize_grads(False)

    @staticmethod
    def backward(ctx, gg_x, gg_w, gg_b):
        return _formulas.conv_backward_backward(
            _CONV, ctx.saved_tensors, ctx.params, ctx.output_mask, (gg_x, gg_w, gg_b), ctx.needs_input_grad[:3]
        ) + (None,) * 5

    @staticmethod
    def jvp(ctx, go_t, x_t, w_t, *_):
        return _formulas.conv_backward_tangent(_CONV, ctx.saved_tensors, (go_t, x_t, w_t), ctx.params,
                                               ctx.output_mask)

    @staticmethod
    def vmap(info, in_dims, grad_out, x, weight, stride, padding, dilation, groups, output_mask):
        grad_out, x, weight = _fold(info, in_dims[:3], (grad_out, x, weight))
        grads = ConvBackward.apply(grad_out, x, weight, stride, padding, dilation, groups, output_mask)
        return (tuple(_unfold(info, g) if m else g for g, m in zip(grads, output_mask)),
                tuple(0 if m else None for m in output_mask))


class ConvTranspose(torch.autograd.Function):
    """``dynamic_conv_transpose2d``: the adjoint of the conv, so its derivatives are ``Conv`` and
    ``ConvBackward`` (reverse) and itself (forward: it is bilinear in (x, weight) plus the bias)."""

    @staticmethod
    def forward(x, weight, bias, stride, padding, output_padding, dilation, groups):
        return _ops.dynamic_conv_transpose2d(x, weight, bias, stride, padding, output_padding, dilation, groups)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, weight, bias, stride, padding, output_padding, dilation, groups = inputs
        ctx.save_for_backward(x, weight)
        ctx.save_for_forward(x, weight)
        ctx.has_bias = bias is not None
        ctx.args = (stride, padding, output_padding, dilation, groups)
        ctx.params = (stride, padding, dilation, groups)  # of the conv it transposes
        ctx.out_shape = output.shape

    @staticmethod
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        return _formulas.conv_transpose_backward(_CONV, x, weight, grad_out, ctx.params, ctx.needs_input_grad[:3],
                                                 ctx.has_bias) + (None,) * 5

    @staticmethod
    def jvp(ctx, x_t, w_t, b_t, *_):
        x, weight = ctx.saved_tensors
        return _formulas.conv_tangent(_TRANSPOSE, x, weight, x_t, w_t, b_t, ctx.args, ctx.out_shape)

    @staticmethod
    def vmap(info, in_dims, x, weight, bias, *args):
        x, weight, bias = _fold(info, in_dims[:3], (x, weight, bias))
        return _unfold(info, ConvTranspose.apply(x, weight, bias, *args)), 0


# The conv and its backward as the formulas call them: through the Functions, so that every
# derivative they take is itself differentiable under the transforms.
_CONV = _formulas.ConvOps(Conv.apply, ConvBackward.apply)
# The transposed conv is bilinear too: its tangent is conv_tangent's with itself as the conv.
_TRANSPOSE = _formulas.ConvOps(ConvTranspose.apply, None)


def conv(x, weight, bias, stride, padding, dilation, groups=1):
    """The conv op, through ``Conv`` while a transform is active (else the op itself)."""
    if active():
        return Conv.apply(x, weight, bias, stride, padding, dilation, groups)
    return _ops.dynamic_conv2d(x, weight, bias, stride, padding, dilation, groups)


def conv_transpose(x, weight, bias, stride, padding, output_padding, dilation, groups):
    """The transposed conv op, through ``ConvTranspose`` while a transform is active (else the op itself)."""
    if active():
        return ConvTranspose.apply(x, weight, bias, stride, padding, output_padding, dilation, groups)
    return _ops.dynamic_conv_transpose2d(x, weight, bias, stride, padding, output_padding, dilation, groups)
