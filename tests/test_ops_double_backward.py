"""Second-order gradients of both ops: gradgradcheck in float64 and
Hessian-vector products against dyconv.reference, over the geometry grid of
tests/test_ops_values.py and every norm x activation."""
import pytest
import torch
from torch.autograd import gradgradcheck

import dyconv
from dyconv import _composite, reference
from conftest import assert_close, make_problem
from test_ops_values import ACTIVATIONS, CONV_CASES, NORMS, _ids

F64 = torch.float64


def _randn_like(t, seed):
    return torch.randn(t.shape, generator=torch.Generator().manual_seed(seed), dtype=t.dtype)


def _hvp(fn, inputs, seed=5):
    """Gradients of <grad(fn)(inputs) . u, 1> w.r.t. inputs: a Hessian(-like) vector product.

    v projects the output, u the first-order gradients; both random and fixed.
    Returns (first-order grads, second-order grads).
    """
    out = fn(*inputs)
    grads = torch.autograd.grad(out, inputs, _randn_like(out, seed), create_graph=True)
    inner = sum((g * _randn_like(g, seed + 1 + i)).sum() for i, g in enumerate(grads))
    return grads, torch.autograd.grad(inner, inputs, allow_unused=True, materialize_grads=True)


def _compare(fn, ref, inputs, what):
    got_g, got_h = _hvp(fn, inputs)
    want_g, want_h = _hvp(ref, inputs)
    for i, (a, b) in enumerate(zip(got_g, want_g)):
        assert_close(a, b, F64, f"{what}: grad {i}")
    for i, (a, b) in enumerate(zip(got_h, want_h)):
        assert_close(a, b, F64, f"{what}: second-order grad {i}")


@pytest.mark.parametrize("case", CONV_CASES, ids=_ids)
def test_dynamic_conv2d_second_order_matches_reference(case):
    B, Cin, H, W, Cout, k, s, p, d = case
    x, w, _, _, bias = make_problem(B, Cin, H, W, Cout, k, F64, bias=True)
    kw = dict(stride=s, padding=p, dilation=d)
    _compare(lambda *a: dyconv.dynamic_conv2d(*a, **kw), lambda *a: reference.dynamic_conv2d(*a, **kw),
             (x, w, bias), "with bias")
    # A bilinear loss so that the second derivative is not zero: out^2.
    _compare(lambda *a: dyconv.dynamic_conv2d(*a, **kw) ** 2, lambda *a: reference.dynamic_conv2d(*a, **kw) ** 2,
             (x, w), "squared, no bias")


# Every geometry with every norm; the activation rotates so that each
# (norm, activation) pair meets several geometries.
FUSED_CASES = [
    (case, norm, ACTIVATIONS[(i + j) % len(ACTIVATIONS)])
    for i, case in enumerate(CONV_CASES) for j, norm in enumerate(NORMS)
]


@pytest.mark.parametrize("case,norm,activation", FUSED_CASES,
                         ids=[f"{_ids(c)}-{n}-{a}" for c, n, a in FUSED_CASES])
def test_dynamic_conv_norm_act_second_order_matches_reference(case, norm, activation):
    B, Cin, H, W, Cout, k, s, p, d = case
    inputs = make_problem(B, Cin, H, W, Cout, k, F64)
    kw = dict(stride=s, padding=p, dilation=d, norm=norm, activation=activation)
    _compare(lambda *a: dyconv.dynamic_conv_norm_act(*a, **kw),
             lambda *a: reference.dynamic_conv_norm_act(*a, **kw), inputs, f"{norm}/{activation}")


# gradgradcheck (numerical vs analytical second derivatives, fast mode: random
# projections) on the first-order gradcheck geometries plus strided ones.
GEOMETRIES = [(1, "same", 1), (2, 1, 1), (1, (2, 0), (2, 1)), (1, "same", 2), ((2, 1), (1, 0), (1, 2))]


@pytest.mark.parametrize("stride,padding,dilation", GEOMETRIES)
def test_gradgradcheck_dynamic_conv2d(stride, padding, dilation):
    x, w, _, _, bias = make_problem(2, 2, 6, 7, 3, (3, 2), F64, seed=4, bias=True)
    kw = dict(stride=stride, padding=padding, dilation=dilation)
    fn = lambda *a: dyconv.dynamic_conv2d(*a, **kw)  # noqa: E731
    assert gradgradcheck(fn, (x, w, bias), eps=1e-6, atol=1e-6, fast_mode=True)
    assert gradgradcheck(fn, (x, w.detach(), None), eps=1e-6, atol=1e-6, fast_mode=True)


# Every (norm, activation) on the first geometry, then each other geometry with one pair.
GRADGRAD_FUSED = [(GEOMETRIES[0], n, a) for n in NORMS for a in ACTIVATIONS] + [
    (geo, NORMS[i % 3], ACTIVATIONS[(i + 1) % 3]) for i, geo in enumerate(GEOMETRIES[1:])
]


@pytest.mark.parametrize("geometry,norm,activation", GRADGRAD_FUSED)
def test_gradgradcheck_dynamic_conv_norm_act(geometry, norm, activation):
    stride, padding, dilation = geometry
    inputs = make_problem(2, 2, 5, 6, 3, (3, 3), F64, seed=3)
    kw = dict(stride=stride, padding=padding, dilation=dilation, norm=norm, activation=activation)
    assert gradgradcheck(lambda *a: dyconv.dynamic_conv_norm_act(*a, **kw), inputs, eps=1e-6, atol=1e-6,
                         fast_mode=True)


def test_second_order_with_some_inputs_not_requiring_grad():
    x, w, scale, shift = make_problem(2, 3, 6, 5, 4, (3, 3), F64, seed=7)
    x = x.detach()  # input data: only the (generated) filters and affine are trained
    kw = dict(dilation=2, norm="instance", activation="relu")
    for fn, ref in ((dyconv.dynamic_conv_norm_act, reference.dynamic_conv_norm_act),):
        _compare(lambda *a: fn(x, *a, **kw), lambda *a: ref(x, *a, **kw), (w, scale, shift), "x constant")
        _compare(lambda *a: fn(x, *a, scale, shift, **kw), lambda *a: ref(x, *a, scale, shift, **kw), (w,),
                 "only weight")


def test_gradient_penalty_trains_the_filters():
    """An R1-style penalty on the input gradient reaches the filters with the reference's value."""
    x, w, scale, shift = make_problem(2, 3, 7, 6, 4, (3, 3), F64, seed=8)
    kw = dict(dilation=2, norm="layer", activation="sigmoid")

    def penalty_grad(fn):
        gx, = torch.autograd.grad(fn(x, w, scale, shift, **kw).sum(), x, create_graph=True)
        return torch.autograd.grad(gx.pow(2).sum(), (w, scale, shift))

    for got, want in zip(penalty_grad(dyconv.dynamic_conv_norm_act), penalty_grad(reference.dynamic_conv_norm_act)):
        assert_close(got, want, F64, "penalty gradient")


def test_first_order_backward_keeps_the_fast_kernel(monkeypatch):
    """Without create_graph the fused backward is the fast kernel, never the composite."""
    def fail(*args, **kwargs):
        raise AssertionError("the composite backward ran without create_graph")

    monkeypatch.setattr(_composite, "differentiable_backward", fail)
    inputs = make_problem(2, 3, 6, 5, 4, (3, 3), torch.float32)
    out = dyconv.dynamic_conv_norm_act(*inputs)
    out.sum().backward()
    assert all(t.grad is not None for t in inputs)


def test_backward_op_called_directly_is_not_differentiated_silently():
    x, w, scale, shift = (t.detach() for t in make_problem(2, 3, 6, 5, 4, (3, 3), F64))
    ops = torch.ops.dyconv
    _, conv_out, mean, rstd = ops.dynamic_conv_norm_act(x, w, scale, shift, [1, 1], [1, 1], [1, 1],
                                                        "layer", "relu", 1e-5)
    grad = torch.randn_like(conv_out).requires_grad_()
    grads = ops.dynamic_conv_norm_act_backward(grad, x, w, scale, shift, conv_out, mean, rstd, [1, 1], [1, 1],
                                               [1, 1], "layer", "relu", [True] * 4)
    with pytest.raises(RuntimeError, match="dynamic_conv_norm_act_backward has no derivative of its own"):
        grads[0].sum().backward()
