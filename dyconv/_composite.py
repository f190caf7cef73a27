"""The fused op written with differentiable ops, for gradients that must themselves be differentiable.

``dynamic_conv_norm_act_backward`` is one fast kernel with no derivative of its
own. When autograd must keep the graph of the backward (``create_graph=True``:
gradient penalties, Hessian-vector products, second-order meta-learning), the
fused op's backward instead differentiates this composition: the convolution
through ``dyconv::dynamic_conv2d`` (differentiable to any order, see
``dyconv/_autograd.py``) and normalization, affine and activation through torch
ops. Its values are the fused kernel's up to rounding. Under torch.func
transforms and forward-mode AD the fused op is this composition itself, its
conv then running through ``dyconv/_transforms.py``.
"""
from __future__ import annotations

import torch

from dyconv import _transforms


def conv_norm_act(x, weight, scale, shift, stride, padding, dilation, norm, activation, eps, groups=1):
    """``act(normalize(conv(x, weight)) * scale + shift)`` from op-level arguments (padding already applied)."""
    y = _transforms.conv(x, weight, None, stride, padding, dilation, groups)
    if norm != "none" and y.shape[0] > 0:
        dims = (1, 2, 3) if norm == "layer" else (2, 3)
        var, mean = torch.var_mean(y, dims, correction=0, keepdim=True)
        y = (y - mean) * torch.rsqrt(var + eps)
    y = y * scale[:, :, None, None] + shift[:, :, None, None]
    if activation == "relu":
        y = torch.relu(y)
    elif activation == "sigmoid":
        y = torch.sigmoid(y)
    return y


def differentiable_backward(grad_out, inputs, needs_grad, params):
    """Gradients of the fused op w.r.t. the ``inputs`` (x, weight, scale, shift) that ``needs_grad``
    marks, as tensors with a graph (``None`` for the others).

    Called from the fused op's backward with grad mode on; ``inputs`` are the
    saved tensors, so the returned gradients are connected to the graph that
    produced them and to ``grad_out``.
    """
    wanted = [t for t, need in zip(inputs, needs_grad) if need]
    out = conv_norm_act(*inputs, *params)
    grads = iter(torch.autograd.grad(out, wanted, grad_out, create_graph=True, allow_unused=True))
    return tuple(next(grads) if need else None for need in needs_grad)
