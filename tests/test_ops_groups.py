"""`groups` on both conv ops, depthwise included: values, all gradients, second order, opcheck,
errors and torch.compile against dyconv.reference (one grouped F.conv2d with B * groups groups)."""
import pytest
import torch
import torch.nn.functional as F
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.autograd import gradcheck, gradgradcheck

import dyconv
from dyconv import reference
from conftest import assert_close
from test_ops_values import _grads

F64 = torch.float64

# (B, Cin, Cout, groups, H, W, kernel, stride, padding, dilation)
CASES = [
    (2, 4, 6, 2, 7, 8, (3, 3), 1, 1, 1),
    (3, 6, 6, 3, 9, 7, (3, 3), 1, "same", 2),
    (2, 8, 4, 4, 8, 9, (1, 1), 1, 0, 1),  # grouped pointwise
    (2, 8, 16, 2, 9, 9, (3, 3), 2, 1, 1),  # strided
    (2, 6, 6, 6, 9, 10, (3, 3), 1, 1, 1),  # depthwise
    (2, 5, 10, 5, 11, 9, (5, 5), 1, "same", 2),  # depthwise, multiplier 2, dilation 2
    (2, 4, 4, 4, 13, 12, (7, 7), 1, 3, 1),  # depthwise 7x7
    (3, 4, 8, 4, 10, 11, (3, 5), 2, (1, 2), (2, 1)),  # depthwise, strided, uneven
    (1, 3, 3, 3, 4, 5, (9, 9), 1, 4, 1),  # depthwise, kernel larger than the input
]

pytestmark = pytest.mark.usefixtures("torch_jvp_decompositions")  # torch's own warnings (conftest)


def _ids(case):
    B, Cin, Cout, G, H, W, k, s, p, d = case
    return f"B{B}-{Cin}to{Cout}-g{G}-{H}x{W}-k{k[0]}{k[1]}-s{s}-p{p}-d{d}".replace(" ", "")


def problem(B, Cin, Cout, G, H, W, k, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, Cin, H, W, generator=g, dtype=dtype)
    w = torch.randn(B, Cout, Cin // G, *k, generator=g, dtype=dtype) / (Cin // G * k[0] * k[1]) ** 0.5
    bias = torch.randn(B, Cout, generator=g, dtype=dtype)
    scale = 1 + 0.5 * torch.randn(B, Cout, generator=g, dtype=dtype)
    shift = 0.5 * torch.randn(B, Cout, generator=g, dtype=dtype)
    return [t.requires_grad_() for t in (x, w, bias, scale, shift)]


@pytest.mark.parametrize("dtype", [torch.float32, F64], ids=str)
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_grouped_conv_matches_reference(case, dtype):
    B, Cin, Cout, G, H, W, k, s, p, d = case
    x, w, bias, _, _ = problem(B, Cin, Cout, G, H, W, k, dtype)
    kw = dict(stride=s, padding=p, dilation=d, groups=G)
    for b in (bias, None):
        out, ref = dyconv.dynamic_conv2d(x, w, b, **kw), reference.dynamic_conv2d(x, w, b, **kw)
        assert out.shape == ref.shape
        assert_close(out, ref, dtype, "output")
        inputs = (x, w) if b is None else (x, w, b)
        for name, got, want in zip(("x", "weight", "bias"), _grads(out, inputs), _grads(ref, inputs)):
            assert_close(got, want, dtype, f"grad {name}")


def test_reference_is_f_conv2d_per_sample():
    """The ground truth itself: the grouped idiom equals F.conv2d applied to each sample."""
    x, w, bias, _, _ = problem(3, 6, 4, 2, 7, 8, (3, 3), F64)
    ref = reference.dynamic_conv2d(x, w, bias, padding=1, groups=2)
    per_sample = torch.cat([F.conv2d(x[b:b + 1], w[b], bias[b], padding=1, groups=2) for b in range(3)])
    torch.testing.assert_close(ref, per_sample, rtol=0, atol=1e-12)


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
@pytest.mark.parametrize("norm", ["layer", "instance", "none"])
@pytest.mark.parametrize("case", [CASES[0], CASES[3], CASES[5]], ids=_ids)
def test_grouped_fused_op_matches_reference(case, norm, activation):
    """The norm does not care about groups: layer norm over (C, H, W) of each sample, instance per channel."""
    B, Cin, Cout, G, H, W, k, s, p, d = case
    for dtype in (torch.float32, F64):
        x, w, _, scale, shift = problem(B, Cin, Cout, G, H, W, k, dtype)
        kw = dict(stride=s, padding=p, dilation=d, groups=G, norm=norm, activation=activation)
        out = dyconv.dynamic_conv_norm_act(x, w, scale, shift, **kw)
        ref = reference.dynamic_conv_norm_act(x, w, scale, shift, **kw)
        assert_close(out, ref, dtype, "output")
        inputs = (x, w, scale, shift)
        for name, got, want in zip(("x", "weight", "scale", "shift"), _grads(out, inputs), _grads(ref, inputs)):
            assert_close(got, want, dtype, f"grad {name}")


GRADCHECK_CASES = [  # small: gradgradcheck costs a full Jacobian of the backward
    (1, 4, 4, 2, 4, 5, (3, 3), 1, 1, 1),
    (1, 3, 6, 3, 5, 4, (3, 3), 1, 2, 2),  # depthwise, multiplier 2, dilation 2
    (1, 2, 4, 2, 6, 5, (3, 3), 2, 1, 1),  # depthwise, strided
]


@pytest.mark.parametrize("case", GRADCHECK_CASES, ids=_ids)
def test_grouped_conv_first_and_second_order_gradcheck(case):
    B, Cin, Cout, G, H, W, k, s, p, d = case
    x, w, bias, _, _ = problem(B, Cin, Cout, G, H, W, k, F64, seed=5)
    fn = lambda *a: dyconv.dynamic_conv2d(*a, stride=s, padding=p, dilation=d, groups=G)  # noqa: E731
    assert gradcheck(fn, (x, w, bias), eps=1e-6, atol=1e-6)
    assert gradgradcheck(fn, (x, w, bias), eps=1e-6, atol=1e-6)


@pytest.mark.parametrize("norm", ["layer", "instance"])
def test_grouped_fused_op_second_order_gradcheck(norm):
    x, w, _, scale, shift = problem(2, 2, 4, 2, 3, 3, (3, 3), F64, seed=6)
    fn = lambda *a: dyconv.dynamic_conv_norm_act(*a, groups=2, norm=norm, activation="sigmoid")  # noqa: E731
    assert gradcheck(fn, (x, w, scale, shift), eps=1e-6, atol=1e-6)
    assert gradgradcheck(fn, (x, w, scale, shift), eps=1e-6, atol=1e-6)


def _opcheck_cases():
    x, w, bias, scale, shift = (t.detach() for t in problem(2, 4, 6, 2, 6, 7, (3, 3), F64))
    xd, wd, bd, _, _ = (t.detach() for t in problem(2, 4, 8, 4, 6, 7, (3, 3), F64))  # depthwise, multiplier 2
    rg = lambda t: t.clone().requires_grad_()  # noqa: E731
    geo = ([1, 1], [1, 1], [1, 1])
    ops = torch.ops.dyconv
    _, conv_out, mean, rstd = ops.dynamic_conv_norm_act(x, w, scale, shift, *geo, "layer", "relu", 1e-5, 2)
    return [
        (ops.dynamic_conv2d.default, (rg(x), rg(w), rg(bias), *geo, 2)),
        (ops.dynamic_conv2d.default, (rg(xd), rg(wd), rg(bd), [2, 1], [1, 2], [1, 2], 4)),
        (ops.dynamic_conv2d_backward.default, (rg(torch.randn(2, 6, 6, 7, dtype=F64)), rg(x), rg(w), *geo,
                                               [True, True, True], 2)),
        (ops.dynamic_conv2d_backward.default, (torch.randn(2, 8, 6, 7, dtype=F64), xd, wd, *geo,
                                               [True, True, False], 4)),
        (ops.dynamic_conv_norm_act.default, (rg(x), rg(w), rg(scale), rg(shift), *geo, "layer", "relu", 1e-5, 2)),
        (ops.dynamic_conv_norm_act_backward.default,
         (torch.randn(2, 6, 6, 7, dtype=F64), x, w, scale, shift, conv_out, mean, rstd, *geo, "layer", "relu",
          [True] * 4, 2)),
    ]


@pytest.mark.parametrize("index", range(6))
def test_opcheck_with_groups(index):
    op, args = _opcheck_cases()[index]
    torch.library.opcheck(op, args)


def test_torch_compile_fullgraph_with_groups_matches_eager():
    torch._dynamo.reset()

    def layer(x, w, wd, scale, shift):
        y = dyconv.dynamic_conv_norm_act(x, w, scale, shift, groups=2, norm="layer")
        return dyconv.dynamic_conv2d(y, wd, padding=2, dilation=2, groups=6)

    x, w, _, scale, shift = problem(2, 4, 6, 2, 7, 8, (3, 3), torch.float32)
    wd = torch.randn(2, 6, 1, 3, 3, requires_grad=True)
    compiled = torch.compile(layer, fullgraph=True, backend="aot_eager")
    want, got = layer(x, w, wd, scale, shift), compiled(x, w, wd, scale, shift)
    assert_close(got, want, torch.float32, "compiled output")
    inputs = (x, w, wd, scale, shift)
    for a, b in zip(torch.autograd.grad(got.sum(), inputs), torch.autograd.grad(want.sum(), inputs)):
        assert_close(a, b, torch.float32, "compiled grad")


def _good(Cin=6, Cout=4, G=2, Cw=None):
    return torch.randn(2, Cin, 8, 9), torch.randn(2, Cout, Cin // G if Cw is None else Cw, 3, 3)


ERROR_CASES = [
    ("Cin not divisible", dict(Cin=6, Cout=4, G=4, Cw=1), 4,
     r"input channels must be divisible by groups, expected Cin % groups == 0, got Cin=6, groups=4"),
    ("Cout not divisible", dict(Cin=6, Cout=4, G=3), 3,
     r"output channels must be divisible by groups, expected weight.shape\[1\] % groups == 0, "
     r"got weight.shape\[1\]=4, groups=3"),
    ("weight shape", dict(Cin=6, Cout=4, G=2, Cw=6), 2,
     r"weight input channels must be Cin / groups, expected weight.shape\[2\] == 6 / 2 = 3, got 6"),
]


@pytest.mark.parametrize("what,sizes,groups,message", ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_group_errors_name_the_mismatch(what, sizes, groups, message):
    x, w = _good(**sizes)
    scale = torch.ones(2, w.shape[1])
    with pytest.raises(RuntimeError, match=message):
        dyconv.dynamic_conv2d(x, w, groups=groups)
    with pytest.raises(RuntimeError, match=message):
        dyconv.dynamic_conv_norm_act(x, w, scale, scale, groups=groups)
    with FakeTensorMode(), pytest.raises(RuntimeError, match=message):
        dyconv.dynamic_conv2d(torch.empty(x.shape), torch.empty(w.shape), groups=groups)


@pytest.mark.parametrize("groups", [0, -1, 1.5, True, "2"])
def test_groups_must_be_a_positive_int(groups):
    x, w = _good(G=1)
    with pytest.raises(ValueError, match="groups must be an int >= 1"):
        dyconv.dynamic_conv2d(x, w, groups=groups)


def test_torch_func_hessian_and_jvp_with_groups_match_reference():
    from torch.func import hessian, jvp

    x, w, _, scale, shift = (t.detach() for t in problem(1, 4, 4, 2, 3, 3, (3, 3), F64, seed=8))
    f = lambda x, w: dyconv.dynamic_conv2d(x, w, padding=1, groups=2).sin().sum()  # noqa: E731
    r = lambda x, w: reference.dynamic_conv2d(x, w, padding=1, groups=2).sin().sum()  # noqa: E731
    for got, want in zip(hessian(f, argnums=1)(x, w), hessian(r, argnums=1)(x, w)):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    kw = dict(groups=2, norm="layer", activation="sigmoid")
    fused = lambda x: dyconv.dynamic_conv_norm_act(x, w, scale, shift, **kw)  # noqa: E731
    fused_ref = lambda x: reference.dynamic_conv_norm_act(x, w, scale, shift, **kw)  # noqa: E731
    t = torch.randn_like(x)
    for got, want in zip(jvp(fused, (x,), (t,)), jvp(fused_ref, (x,), (t,))):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
