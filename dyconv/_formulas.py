"""Derivative formulas of the conv op and its backward op, written once for both ways they run.

The convolution is bilinear in (x, weight) plus the bias; its backward op
``(grad_x, grad_w, grad_b) = dynamic_conv2d_backward(grad_out, x, weight)`` is
linear in each of (grad_out, weight), (grad_out, x) and grad_out. Every
derivative below is therefore another call of the two ops, passed in as
``ConvOps``: the ops themselves for ``register_autograd`` (``dyconv/_autograd.py``),
the autograd.Functions of ``dyconv/_transforms.py`` under torch.func transforms.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import torch


class ConvOps(NamedTuple):
    """``params`` below are (stride, padding, dilation, groups): the ops' arguments in this order."""
    conv: Callable          # (x, weight, bias, stride, padding, dilation, groups) -> out
    conv_backward: Callable  # (grad_out, x, weight, stride, padding, dilation, groups, mask) -> (gx, gw, gb)


def _add(a, b):
    return b if a is None else a if b is None else a + b


def conv_tangent(ops, x, weight, x_t, w_t, b_t, params, out_shape):
    """Forward-mode derivative of ``conv(x, weight) + bias``: conv(ẋ, w) + conv(x, ẇ) + ḃ."""
    t = None
    if x_t is not None:
        t = ops.conv(x_t, weight, None, *params)
    if w_t is not None:
        t = _add(t, ops.conv(x, w_t, b_t, *params))
    elif b_t is not None:
        t = _add(t, b_t[:, :, None, None].expand(out_shape))
    return t if t is not None else x.new_zeros(out_shape)


def conv_backward_backward(ops, saved, params, output_mask, upstream, needs):
    """Reverse-mode derivative of the backward op: gradients w.r.t. (grad_out, x, weight).

    With upstream gradients gg_x, gg_w, gg_b of (grad_x, grad_w, grad_b):
      d grad_out = conv(gg_x, weight) + conv(x, gg_w) + gg_b
      d x        = grad_x of the backward op with weight := gg_w
      d weight   = grad_w of the backward op with x := gg_x
    """
    grad_out, x, weight = saved
    # Outputs that output_mask skipped are empty placeholders: no gradient flows through them.
    gg_x, gg_w, gg_b = (g if m else None for g, m in zip(upstream, output_mask))
    need_go, need_x, need_w = needs
    d_go = d_x = d_w = None
    if need_go:
        if gg_x is not None:
            d_go = ops.conv(gg_x, weight, None, *params)
        if gg_w is not None:
            d_go = _add(d_go, ops.conv(x, gg_w, gg_b, *params))
        elif gg_b is not None:
            d_go = _add(d_go, gg_b[:, :, None, None].expand(grad_out.shape))
    if need_x and gg_w is not None:
        d_x = ops.conv_backward(grad_out, x, gg_w, *params, [True, False, False])[0]
    if need_w and gg_x is not None:
        d_w = ops.conv_backward(grad_out, gg_x, weight, *params, [False, True, False])[1]
    return d_go, d_x, d_w


def conv_backward_tangent(ops, saved, tangents, params, output_mask):
    """Forward-mode derivative of the backward op's three outputs (empty where ``output_mask`` skips one).

      d grad_x = grad_x(ġrad_out, w) + grad_x(grad_out, ẇ)
      d grad_w = grad_w(ġrad_out, x) + grad_w(grad_out, ẋ)
      d grad_b = grad_b(ġrad_out)
    """
    grad_out, x, weight = saved
    go_t, x_t, w_t = tangents
    mask = list(output_mask)
    dx, dw, db = ops.conv_backward(go_t, x, weight, *params, mask) if go_t is not None else (None,) * 3
    if mask[0] and w_t is not None:
        dx = _add(dx, ops.conv_backward(grad_out, x, w_t, *params, [True, False, False])[0])
    if mask[1] and x_t is not None:
        dw = _add(dw, ops.conv_backward(grad_out, x_t, weight, *params, [False, True, False])[1])
    shapes = (x.shape, weight.shape, weight.shape[:2])
    return tuple(
        (t if t is not None else x.new_zeros(shape)) if m else x.new_empty(0)
        for t, m, shape in zip((dx, dw, db), mask, shapes)
    )


def conv_transpose_backward(ops, x, weight, grad_out, params, needs, has_bias):
    """Reverse-mode derivative of ``y = conv_transpose(x, weight) + bias``, the input gradient of the conv
    with ``params``: grad_x = conv(grad_y, w); grad_w = the conv backward's weight gradient with x in the
    place of the output gradient and grad_y in the place of the input; grad_b = grad_y summed over (H, W)."""
    need_x, need_w, need_b = needs
    grad_x = ops.conv(grad_out, weight, None, *params) if need_x else None
    grad_w = ops.conv_backward(x, grad_out, weight, *params, [False, True, False])[1] if need_w else None
    grad_b = grad_out.sum((2, 3)) if need_b and has_bias else None
    return grad_x, grad_w, grad_b
