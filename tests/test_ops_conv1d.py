"""dynamic_conv1d and dynamic_conv_transpose1d (the 2-D ops at H = 1) against the float64 grouped
F.conv1d / F.conv_transpose1d of dyconv.reference: values, first and second-order gradients (bfloat16 and
float16: values and first order), torch.func, torch.compile, torch.export, padding strings and errors."""
import pytest
import torch
import torch.nn.functional as F
from torch.autograd import gradgradcheck

import dyconv
from dyconv import reference
from conftest import assert_close
from test_ops_autocast import _check
from test_ops_double_backward import _compare
from test_ops_transforms import TRANSFORMS, _matches, _rand

F64 = torch.float64
DTYPES = [torch.float32, torch.float64]

pytestmark = pytest.mark.usefixtures("torch_jvp_decompositions")  # torch's own warnings (conftest)

# (B, Cin, L, Cout, k, stride, padding, dilation, groups)
CONV_CASES = [
    (2, 3, 17, 4, 3, 1, "same", 2, 1),
    (3, 4, 20, 6, 4, 1, "same", 1, 2),     # even kernel: "same" pads the far side one more
    (2, 5, 16, 3, 3, 2, 1, 1, 1),
    (2, 4, 12, 4, 3, 1, "valid", 3, 4),    # depthwise
    (1, 2, 5, 3, 3, 1, 8, 8, 1),           # dilation wider than the input
    (2, 6, 11, 8, 1, 1, 0, 1, 1),
    (2, 32, 70, 32, 3, 1, "same", 4, 1),   # float32: the per-tap GEMM engines, not the direct taps
    (2, 8, 200, 8, 3, (2,), (1,), (2,), 1),  # one-int tuples; float32: the stride phases
]
# (B, Cin, L, Cout, k, stride, padding, output_padding, dilation, groups)
TRANSPOSE_CASES = [
    (2, 3, 9, 4, 3, 2, 1, 1, 1, 1),
    (2, 4, 7, 6, 4, 3, 2, 0, 2, 2),
    (3, 5, 10, 2, 1, 1, 0, 0, 1, 1),
    (2, 16, 40, 24, 3, 2, 1, 1, 1, 1),
]


def _ids(case):
    return "-".join(str(v).replace(" ", "") for v in case)


def conv_problem(case, dtype, seed=0):
    B, Cin, L, Cout, k, s, p, d, g = case
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(B, Cin, L, generator=gen, dtype=dtype)
    w = torch.randn(B, Cout, Cin // g, k, generator=gen, dtype=dtype) / (Cin // g * k) ** 0.5
    bias = torch.randn(B, Cout, generator=gen, dtype=dtype)
    return [t.requires_grad_() for t in (x, w, bias)], dict(stride=s, padding=p, dilation=d, groups=g)


def transpose_problem(case, dtype, seed=0):
    B, Cin, L, Cout, k, s, p, op, d, g = case
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(B, Cin, L, generator=gen, dtype=dtype)
    w = torch.randn(B, Cin, Cout // g, k, generator=gen, dtype=dtype) / (Cin * k) ** 0.5
    bias = torch.randn(B, Cout, generator=gen, dtype=dtype)
    return [t.requires_grad_() for t in (x, w, bias)], (s, p, op, g, d)


def _grads(out, inputs, seed=1):
    return torch.autograd.grad(out, inputs, torch.randn(out.shape, generator=torch.Generator().manual_seed(seed),
                                                        dtype=out.dtype))


def _assert_values_and_grads(out, ref, inputs, dtype):
    assert out.shape == ref.shape
    assert_close(out, ref, dtype, "output")
    for i, (got, want) in enumerate(zip(_grads(out, inputs), _grads(ref, inputs))):
        assert_close(got, want, dtype, f"grad {i}")


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("case", CONV_CASES, ids=_ids)
def test_dynamic_conv1d_matches_reference(case, dtype):
    (x, w, bias), kw = conv_problem(case, dtype)
    for b in (bias, None):
        inputs = (x, w) if b is None else (x, w, b)
        _assert_values_and_grads(dyconv.dynamic_conv1d(x, w, b, **kw), reference.dynamic_conv1d(x, w, b, **kw),
                                 inputs, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("case", TRANSPOSE_CASES, ids=_ids)
def test_dynamic_conv_transpose1d_matches_reference(case, dtype):
    (x, w, bias), args = transpose_problem(case, dtype)
    for b in (bias, None):
        inputs = (x, w) if b is None else (x, w, b)
        _assert_values_and_grads(dyconv.dynamic_conv_transpose1d(x, w, b, *args),
                                 reference.dynamic_conv_transpose1d(x, w, b, *args), inputs, dtype)


def test_references_are_f_conv1d_per_sample():
    (x, w, bias), kw = conv_problem(CONV_CASES[1], F64)
    want = torch.cat([F.conv1d(x[b:b + 1], w[b], bias[b], **kw) for b in range(x.shape[0])])
    assert_close(reference.dynamic_conv1d(x, w, bias, **kw), want, F64, "conv1d")
    (x, w, bias), args = transpose_problem(TRANSPOSE_CASES[1], F64)
    want = torch.cat([F.conv_transpose1d(x[b:b + 1], w[b], bias[b], *args) for b in range(x.shape[0])])
    assert_close(reference.dynamic_conv_transpose1d(x, w, bias, *args), want, F64, "conv_transpose1d")


@pytest.mark.parametrize("case", CONV_CASES, ids=_ids)
def test_dynamic_conv1d_second_order_matches_reference(case):
    (x, w, bias), kw = conv_problem(case, F64)
    _compare(lambda *a: dyconv.dynamic_conv1d(*a, **kw), lambda *a: reference.dynamic_conv1d(*a, **kw),
             (x, w, bias), "with bias")
    _compare(lambda *a: dyconv.dynamic_conv1d(*a, **kw) ** 2, lambda *a: reference.dynamic_conv1d(*a, **kw) ** 2,
             (x, w), "squared, no bias")


@pytest.mark.parametrize("case", TRANSPOSE_CASES, ids=_ids)
def test_dynamic_conv_transpose1d_second_order_matches_reference(case):
    (x, w, bias), args = transpose_problem(case, F64)
    _compare(lambda *a: dyconv.dynamic_conv_transpose1d(*a, *args) ** 2,
             lambda *a: reference.dynamic_conv_transpose1d(*a, *args) ** 2, (x, w, bias), "squared")


def test_gradgradcheck():
    (x, w, bias), kw = conv_problem((2, 2, 9, 3, 3, 1, "same", 2, 1), F64, seed=4)
    assert gradgradcheck(lambda *a: dyconv.dynamic_conv1d(*a, **kw), (x, w, bias), eps=1e-6, atol=1e-6,
                         fast_mode=True)
    (x, w, bias), args = transpose_problem((2, 2, 6, 4, 3, 2, 1, 1, 1, 2), F64, seed=4)
    assert gradgradcheck(lambda *a: dyconv.dynamic_conv_transpose1d(*a, *args), (x, w, bias), eps=1e-6, atol=1e-6,
                         fast_mode=True)


def _func_cases():
    (x, w, bias), kw = conv_problem((2, 2, 7, 3, 3, 1, "same", 2, 1), F64, seed=3)
    (xt, wt, bt), args = transpose_problem((2, 2, 5, 2, 3, 2, 1, 1, 1, 1), F64, seed=3)
    strided = dict(stride=2, padding=1)
    return [
        ("conv1d-bias", lambda m: lambda x, w, b: m.dynamic_conv1d(x, w, b, **kw), (x, w, bias)),
        ("conv1d-strided", lambda m: lambda x, w: m.dynamic_conv1d(x, w, **strided), (x, w)),
        ("transpose1d", lambda m: lambda x, w, b: m.dynamic_conv_transpose1d(x, w, b, *args), (xt, wt, bt)),
    ]


FUNC_CASES = [(n, op, tuple(t.detach() for t in inputs)) for n, op, inputs in _func_cases()]


@pytest.mark.parametrize("transform", ["jvp", "grad", "jacrev", "hessian", "jvp(grad)", "vmap"])
@pytest.mark.parametrize("name,op,inputs", FUNC_CASES, ids=[c[0] for c in FUNC_CASES])
def test_torch_func_matches_reference(transform, name, op, inputs):
    v = _rand(op(reference)(*inputs).shape, 7)
    _matches(TRANSFORMS[transform](op(dyconv), inputs, v), TRANSFORMS[transform](op(reference), inputs, v),
             f"{name}, {transform}")


def _layer(x, w, bias, wt):
    y = dyconv.dynamic_conv1d(x, w, bias, padding="same", dilation=2).relu()
    return dyconv.dynamic_conv_transpose1d(y, wt, None, 2, 1, 1)


def _layer_inputs(B, seed=0):
    (x, w, bias), _ = conv_problem((B, 3, 12, 4, 3, 1, "same", 2, 1), torch.float32, seed)
    (_, wt, _), _ = transpose_problem((B, 4, 12, 3, 3, 2, 1, 1, 1, 1), torch.float32, seed)
    return [x, w, bias, wt]


def test_torch_compile_fullgraph_matches_eager():
    torch._dynamo.reset()
    compiled = torch.compile(_layer, fullgraph=True, backend="aot_eager")
    inputs = _layer_inputs(2)
    got, want = compiled(*inputs), _layer(*inputs)
    assert_close(got, want, torch.float32, "compiled output")
    for a, b in zip(torch.autograd.grad(got.sum(), inputs), torch.autograd.grad(want.sum(), inputs)):
        assert_close(a, b, torch.float32, "compiled grad")


def test_torch_export_with_a_dynamic_batch_matches_eager():
    from torch.export import Dim, export

    class Layer(torch.nn.Module):
        def forward(self, x, w, bias, wt):
            return _layer(x, w, bias, wt)

    batch = Dim("batch")
    inputs = lambda B: [t.detach() for t in _layer_inputs(B, seed=B)]  # noqa: E731
    program = export(Layer(), tuple(inputs(3)), dynamic_shapes=tuple({0: batch} for _ in range(4)))
    for B in (2, 5):
        assert_close(program.module()(*inputs(B)), _layer(*inputs(B)), torch.float32, f"exported, batch {B}")


@pytest.mark.parametrize("low", [torch.bfloat16, torch.float16], ids=str)
def test_16_bit_matches_float64_reference(low):
    """bfloat16 and float16 in, the same dtype out (the 2-D ops' float32 kernels, rounded once): values and
    gradients against the float64 reference on the same values, with the dtype's tolerance."""
    conv_inputs, kw = conv_problem(CONV_CASES[2], F64)
    transpose_inputs, args = transpose_problem(TRANSPOSE_CASES[1], F64)
    for what, inputs, call in (("conv1d", conv_inputs, lambda m, *a: m.dynamic_conv1d(*a, **kw)),
                               ("conv_transpose1d", transpose_inputs,
                                lambda m, *a: m.dynamic_conv_transpose1d(*a, *args))):
        inputs = [t.detach().to(low).requires_grad_() for t in inputs]
        inputs64 = [t.detach().to(F64).requires_grad_() for t in inputs]
        out, want = call(dyconv, *inputs), call(reference, *inputs64)
        assert out.dtype == low
        assert_close(out.to(F64), want, low, f"{what} output")
        g = torch.randn(want.shape, generator=torch.Generator().manual_seed(1), dtype=F64).to(low)
        got_grads = torch.autograd.grad(out, inputs, g)
        for i, (a, b) in enumerate(zip(got_grads, torch.autograd.grad(want, inputs64, g.to(F64)))):
            assert a.dtype == low
            assert_close(a.to(F64), b, low, f"{what} grad {i}")


@pytest.mark.parametrize("low", [torch.bfloat16, torch.float16], ids=str)
def test_under_cpu_autocast_runs_in_the_autocast_dtype(low):
    """As the 2-D ops and F.conv1d: the autocast dtype's result, equal to the reference on the inputs cast to it
    (tests/test_ops_autocast.py)."""
    low_inputs = lambda x, w, bias: [x] + [t.detach().to(low).requires_grad_() for t in (w, bias)]  # noqa: E731
    (x, w, bias), kw = conv_problem(CONV_CASES[0], torch.float32)
    _check(lambda *a: dyconv.dynamic_conv1d(*a, **kw), lambda *a: reference.dynamic_conv1d(*a, **kw),
           low_inputs(x, w, bias), "dynamic_conv1d", out_dtype=low)
    (x, w, bias), args = transpose_problem(TRANSPOSE_CASES[0], torch.float32)
    _check(lambda *a: dyconv.dynamic_conv_transpose1d(*a, *args),
           lambda *a: reference.dynamic_conv_transpose1d(*a, *args), low_inputs(x, w, bias),
           "dynamic_conv_transpose1d", out_dtype=low)


def test_batch_zero_has_f_conv1ds_output_length():
    x, w = torch.randn(0, 3, 10), torch.randn(0, 4, 3, 3)
    assert dyconv.dynamic_conv1d(x, w, stride=2, dilation=2).shape == (0, 4, 3)
    assert dyconv.dynamic_conv_transpose1d(torch.randn(0, 4, 10), torch.randn(0, 4, 3, 3), None, 2).shape == (0, 3, 21)


@pytest.mark.parametrize("call,error,message", [
    (lambda x, w: dyconv.dynamic_conv1d(x[..., None], w), RuntimeError,
     r"dynamic_conv1d: x must be a 3-D tensor \(B, Cin, L\), expected 3 dims, got 4"),
    (lambda x, w: dyconv.dynamic_conv1d(x, w[..., None]), RuntimeError,
     r"weight must be a 4-D tensor \(B, Cout, Cin / groups, k\), expected 4 dims, got 5"),
    (lambda x, w: dyconv.dynamic_conv_transpose1d(x, w[0]), RuntimeError, "weight must be a 4-D tensor"),
    (lambda x, w: dyconv.dynamic_conv1d(x, w, stride=(1, 2)), ValueError, "stride must be an int or a sequence of one"),
    (lambda x, w: dyconv.dynamic_conv1d(x, w, padding="full"), ValueError, "padding must be"),
    (lambda x, w: dyconv.dynamic_conv1d(x, w, stride=2, padding="same"), ValueError, 'padding="same" requires stride 1'),
    (lambda x, w: dyconv.dynamic_conv1d(x, w, padding=-1), ValueError, "padding must be >= 0"),
    (lambda x, w: dyconv.dynamic_conv1d(x[:, :2], w), RuntimeError, r"expected weight.shape\[2\] == 2, got 3"),
])
def test_errors_name_the_argument(call, error, message):
    x, w = torch.randn(2, 3, 10), torch.randn(2, 4, 3, 3)
    with pytest.raises(error, match=message):
        call(x, w)
