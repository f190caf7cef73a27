"""dynamic_conv_transpose2d: per sample F.conv_transpose2d (values, gradients of first and second
order against dyconv.reference: one grouped F.conv_transpose2d), opcheck, errors, torch.compile, torch.export."""
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

# (B, Cin, Cout, groups, H, W, kernel, stride, padding, output_padding, dilation)
CASES = [
    (2, 3, 4, 1, 5, 6, (3, 3), 1, 0, 0, 1),
    (2, 4, 6, 1, 6, 5, (3, 3), 2, 1, 1, 1),  # StyleGAN's up=2 (stride 2)
    (3, 6, 4, 2, 5, 7, (4, 4), 2, 1, 0, 1),
    (2, 4, 8, 4, 6, 6, (3, 3), 2, 1, 1, 1),  # depthwise (groups == Cin), multiplier 2
    (2, 5, 5, 5, 7, 6, (5, 5), 1, 4, 0, 2),  # depthwise, dilation 2
    (2, 2, 3, 1, 4, 5, (3, 2), (3, 2), (1, 0), (2, 1), (2, 1)),
    (1, 24, 16, 1, 6, 7, (3, 3), 1, 1, 0, 1),  # enough channels for the Winograd / GEMM engines
]

pytestmark = pytest.mark.usefixtures("torch_jvp_decompositions")  # torch's own warnings (conftest)


def _ids(case):
    B, Cin, Cout, G, H, W, k, s, p, op, d = case
    return f"B{B}-{Cin}to{Cout}-g{G}-{H}x{W}-k{k[0]}{k[1]}-s{s}-p{p}-op{op}-d{d}".replace(" ", "")


def problem(B, Cin, Cout, G, H, W, k, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, Cin, H, W, generator=g, dtype=dtype)
    w = torch.randn(B, Cin, Cout // G, *k, generator=g, dtype=dtype) / (Cin * k[0] * k[1]) ** 0.5
    bias = torch.randn(B, Cout, generator=g, dtype=dtype)
    return [t.requires_grad_() for t in (x, w, bias)]


@pytest.mark.parametrize("dtype", [torch.float32, F64], ids=str)
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_transposed_conv_matches_reference(case, dtype):
    B, Cin, Cout, G, H, W, k, s, p, op, d = case
    x, w, bias = problem(B, Cin, Cout, G, H, W, k, dtype)
    for b in (bias, None):
        out = dyconv.dynamic_conv_transpose2d(x, w, b, s, p, op, G, d)
        ref = reference.dynamic_conv_transpose2d(x, w, b, s, p, op, G, d)
        assert out.shape == ref.shape
        assert_close(out, ref, dtype, "output")
        inputs = (x, w) if b is None else (x, w, b)
        for name, got, want in zip(("x", "weight", "bias"), _grads(out, inputs), _grads(ref, inputs)):
            assert_close(got, want, dtype, f"grad {name}")


def test_reference_is_f_conv_transpose2d_per_sample():
    x, w, bias = problem(3, 4, 6, 2, 5, 6, (3, 3), F64)
    ref = reference.dynamic_conv_transpose2d(x, w, bias, 2, 1, 1, 2)
    per_sample = torch.cat([F.conv_transpose2d(x[b:b + 1], w[b], bias[b], 2, 1, 1, 2) for b in range(3)])
    torch.testing.assert_close(ref, per_sample, rtol=0, atol=1e-12)


def test_transposed_conv_is_the_adjoint_of_the_conv():
    """<conv(y, w), x> == <y, conv_transpose(x, w)> with the same per-sample weight."""
    g = torch.Generator().manual_seed(2)
    y = torch.randn(2, 6, 11, 11, generator=g, dtype=F64)
    w = torch.randn(2, 4, 3, 3, 3, generator=g, dtype=F64)  # conv: 6 -> 4 in 2 groups
    x = torch.randn(2, 4, 6, 6, generator=g, dtype=F64)
    lhs = (dyconv.dynamic_conv2d(y, w, stride=2, padding=1, groups=2) * x).sum()
    rhs = (y * dyconv.dynamic_conv_transpose2d(x, w, None, 2, 1, 0, 2)).sum()
    torch.testing.assert_close(lhs, rhs, rtol=1e-12, atol=0)


@pytest.mark.parametrize("case", [
    (1, 2, 3, 1, 3, 4, (3, 3), 2, 1, 1, 1),
    (1, 2, 4, 2, 3, 3, (3, 3), 1, 1, 0, 2),  # depthwise
    (1, 4, 2, 2, 3, 3, (2, 3), 2, 0, 1, 1),
], ids=_ids)
def test_transposed_conv_first_and_second_order_gradcheck(case):
    B, Cin, Cout, G, H, W, k, s, p, op, d = case
    x, w, bias = problem(B, Cin, Cout, G, H, W, k, F64, seed=4)
    fn = lambda *a: dyconv.dynamic_conv_transpose2d(*a, s, p, op, G, d)  # noqa: E731
    assert gradcheck(fn, (x, w, bias), eps=1e-6, atol=1e-6)
    assert gradgradcheck(fn, (x, w, bias), eps=1e-6, atol=1e-6)


def test_opcheck():
    x, w, bias = (t.detach() for t in problem(2, 4, 6, 2, 4, 5, (3, 3), F64))
    xd, wd, bd = (t.detach() for t in problem(2, 3, 3, 3, 4, 5, (3, 3), F64))
    rg = lambda t: t.clone().requires_grad_()  # noqa: E731
    op = torch.ops.dyconv.dynamic_conv_transpose2d.default
    torch.library.opcheck(op, (rg(x), rg(w), rg(bias), [2, 2], [1, 1], [1, 0], [1, 1], 2))
    torch.library.opcheck(op, (rg(xd), rg(wd), None, [1, 1], [2, 2], [0, 0], [2, 2], 3))
    torch.library.opcheck(op, (x, w, None, [1, 2], [0, 1], [0, 1], [1, 1], 2))


def test_torch_compile_fullgraph_forward_backward_matches_eager():
    torch._dynamo.reset()

    def up(x, w, bias):
        return dyconv.dynamic_conv_transpose2d(x, w, bias, 2, 1, 1).relu()

    x, w, bias = problem(2, 4, 3, 1, 5, 6, (3, 3), torch.float32)
    compiled = torch.compile(up, fullgraph=True, backend="aot_eager")
    want, got = up(x, w, bias), compiled(x, w, bias)
    assert_close(got, want, torch.float32, "compiled output")
    for a, b in zip(torch.autograd.grad(got.sum(), (x, w, bias)), torch.autograd.grad(want.sum(), (x, w, bias))):
        assert_close(a, b, torch.float32, "compiled grad")


def test_torch_export_with_a_dynamic_batch_matches_eager():
    from torch.export import Dim, export

    class Up(torch.nn.Module):
        def forward(self, x, w, bias):
            return dyconv.dynamic_conv_transpose2d(x, w, bias, 2, 1, 1, 2)

    batch = Dim("batch")
    inputs = lambda B: [t.detach() for t in problem(B, 4, 6, 2, 5, 6, (3, 3), torch.float32, seed=B)]  # noqa: E731
    program = export(Up(), tuple(inputs(3)), dynamic_shapes=tuple({0: batch} for _ in range(3)))
    for B in (2, 7):
        assert_close(program.module()(*inputs(B)), Up()(*inputs(B)), torch.float32, f"exported, batch {B}")


def test_fake_tensor_shape():
    with FakeTensorMode():
        x, w = torch.empty(3, 4, 10, 11), torch.empty(3, 4, 3, 3, 3)
        assert dyconv.dynamic_conv_transpose2d(x, w, None, 2, 1, 1, 2).shape == (3, 6, 20, 22)


ERROR_CASES = [
    ("weight Cin", dict(w=(2, 3, 2, 3, 3)), r"weight input channels must match x, expected weight.shape\[1\] == 4, got 3"),
    ("Cin not divisible", dict(groups=3), r"input channels must be divisible by groups, expected Cin % groups == 0, got Cin=4, groups=3"),
    ("output_padding", dict(stride=2, output_padding=2), r"output_padding must be two values >= 0 and smaller than stride, expected < \[2, 2\], got \[2, 2\]"),
    ("bias shape", dict(bias=(2, 4)), r"bias must have shape \(2, 2\)|bias must have shape \[2, 2\]"),
    ("output too small", dict(x=(2, 4, 1, 1), padding=2), r"output size must be at least 1x1"),
]


@pytest.mark.parametrize("what,changes,message", ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_errors_name_the_mismatch(what, changes, message):
    x = torch.randn(changes.get("x", (2, 4, 5, 5)))
    w = torch.randn(changes.get("w", (2, 4, 2, 3, 3)))
    bias = torch.randn(changes["bias"]) if "bias" in changes else None
    kw = dict(stride=changes.get("stride", 1), padding=changes.get("padding", 0),
              output_padding=changes.get("output_padding", 0), groups=changes.get("groups", 1))
    with pytest.raises(RuntimeError, match=message):
        dyconv.dynamic_conv_transpose2d(x, w, bias, **kw)
    with FakeTensorMode(), pytest.raises(RuntimeError, match=message):
        dyconv.dynamic_conv_transpose2d(torch.empty(x.shape), torch.empty(w.shape),
                                        None if bias is None else torch.empty(bias.shape), **kw)


def test_batch_zero():
    x, w = torch.randn(0, 4, 5, 5, requires_grad=True), torch.randn(0, 4, 3, 3, 3, requires_grad=True)
    out = dyconv.dynamic_conv_transpose2d(x, w, None, 2)
    assert out.shape == (0, 3, 11, 11)
    out.sum().backward()
    assert x.grad.shape == x.shape and w.grad.shape == w.shape


def test_torch_func_transforms_match_reference():
    """jacrev, jacfwd (forward-mode AD) and vmap run through the transposed op like through the conv."""
    from torch.func import jacfwd, jacrev, vmap

    x, w, bias = (t.detach() for t in problem(2, 4, 6, 2, 3, 3, (3, 3), F64, seed=7))
    args = (2, 1, 1, 2)
    f = lambda *a: dyconv.dynamic_conv_transpose2d(*a, *args)  # noqa: E731
    r = lambda *a: reference.dynamic_conv_transpose2d(*a, *args)  # noqa: E731
    for transform in (jacrev, jacfwd):
        for got, want in zip(transform(f, argnums=(0, 1, 2))(x, w, bias), transform(r, argnums=(0, 1, 2))(x, w, bias)):
            torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    xs = torch.randn(3, *x.shape, dtype=F64)
    torch.testing.assert_close(vmap(f, in_dims=(0, None, None))(xs, w, bias),
                               torch.stack([r(xi, w, bias) for xi in xs]), rtol=1e-10, atol=1e-12)
