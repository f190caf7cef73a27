"""Memory format and dtype on CPU: a channels_last x gives a channels_last output, and the input gradient keeps
x's format, for the conv, the fused op and the transposed op, as F.conv2d / F.conv_transpose2d do; outputs and
gradients have x's dtype; values and gradients against the float64 dyconv.reference over {float32, float64,
bfloat16, float16} x {contiguous, channels_last} (and grad_out in either format), with the dtype's tolerance;
second order against the reference; opcheck (fake strides = real ones); torch.compile."""
import pytest
import torch
import torch.nn.functional as F
from torch._prims_common import suggest_memory_format

import dyconv
from dyconv import reference
from conftest import assert_close, make_problem
from test_ops_bf16_half_cpu import GEOMETRIES, _calls, _tensors
from test_ops_double_backward import _compare

F64 = torch.float64
FORMATS = [torch.contiguous_format, torch.channels_last]
OPS = ["conv", "fused", "transposed"]
# (B, Cin, H, W, Cout, kernel, stride, padding, dilation, groups): small channels (direct taps in
# float32), enough for the GEMM engines, strided, depthwise.
CASES = [
    (2, 3, 7, 9, 4, 3, 1, 1, 2, 1),
    (2, 24, 10, 11, 32, 3, 1, 1, 1, 1),
    (3, 4, 9, 8, 6, 3, 2, 1, 1, 2),
    (2, 6, 9, 10, 6, 3, 2, 1, 1, 6),
]


# Every case in float32, float64 and bfloat16; float16, which runs the same code as bfloat16 with another
# conversion, on every other case.
CASE_DTYPES = [(c, d) for c in CASES for d in (torch.float32, F64, torch.bfloat16)] + [
    (c, torch.float16) for c in CASES[::2]]


def _ids(case):
    return "-".join(map(str, case))


def _problem(case, dtype, op, fmt, seed=0):
    B, Cin, H, W, Cout, k, s, p, d, g = case
    x, _, scale, shift, bias = make_problem(B, Cin, H, W, Cout, (k, k), dtype, seed=seed, bias=True)
    w_shape = (B, Cin, Cout // g, k, k) if op == "transposed" else (B, Cout, Cin // g, k, k)
    w = torch.randn(w_shape, generator=torch.Generator().manual_seed(seed + 1), dtype=dtype) / (Cin // g * k * k) ** 0.5
    w.requires_grad_()
    x = x.detach().to(memory_format=fmt).requires_grad_()
    kw = dict(stride=s, padding=p, dilation=d, groups=g)
    if op == "conv":
        return (x, w, bias), (lambda m: lambda x, w, b: m.dynamic_conv2d(x, w, b, **kw))
    if op == "fused":
        # 16-bit: sigmoid, not relu. The backward recomputes the activation input from the saved conv output, which
        # is rounded: where that input is within the rounding of relu's kink, the gradient takes the other side of
        # it, one element off by its whole grad_out (docs/ops.md, dtypes); the bitwise tests cover relu.
        act = "sigmoid" if dtype in (torch.bfloat16, torch.float16) else "relu"
        return (x, w, scale, shift), (lambda m: lambda *a: m.dynamic_conv_norm_act(*a, norm="instance", activation=act,
                                                                                   **kw))
    return (x, w, bias), (lambda m: lambda x, w, b: m.dynamic_conv_transpose2d(x, w, b, s, p, s - 1, g, d))


def _torch_format(op, x, w, groups):
    """The memory format of F.conv2d's (F.conv_transpose2d's) output and input gradient on sample 0."""
    x0 = x[:1].detach().requires_grad_()
    conv = F.conv_transpose2d if op == "transposed" else F.conv2d
    y = conv(x0, w[0].detach(), groups=groups)
    (gx,) = torch.autograd.grad(y, x0, torch.randn_like(y))
    return suggest_memory_format(y), suggest_memory_format(gx)


@pytest.mark.parametrize("fmt", FORMATS, ids=["contiguous", "channels_last"])
@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("case,dtype", CASE_DTYPES, ids=[f"{_ids(c)}-{d}" for c, d in CASE_DTYPES])
def test_output_and_input_gradient_keep_the_memory_format_and_dtype(case, op, dtype, fmt):
    inputs, make = _problem(case, dtype, op, fmt)
    inputs64 = [t.detach().to(F64).requires_grad_() for t in inputs]  # the same values, in float64
    out, ref = make(dyconv)(*inputs), make(reference)(*inputs64)
    want_out_fmt, want_grad_fmt = _torch_format(op, inputs64[0], inputs64[1], case[-1])
    assert want_out_fmt == want_grad_fmt == fmt  # what F.conv2d does, the premise of the test
    assert suggest_memory_format(out) == fmt and out.dtype == dtype
    assert_close(out.to(F64), ref, dtype, "output")
    for g_fmt in FORMATS:
        g = torch.randn(ref.shape, generator=torch.Generator().manual_seed(1), dtype=dtype).to(memory_format=g_fmt)
        got = torch.autograd.grad(out, inputs, g, retain_graph=True)
        want = torch.autograd.grad(ref, inputs64, g.to(F64), retain_graph=True)
        assert suggest_memory_format(got[0]) == fmt, f"grad x with grad_out in {g_fmt}"
        for i, (a, b) in enumerate(zip(got, want)):
            assert a.dtype == dtype, f"grad {i} dtype"
            assert_close(a.to(F64), b, dtype, f"grad {i}, grad_out in {g_fmt}")


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("case", CASES[::2], ids=_ids)
def test_second_order_with_channels_last_matches_reference(case, op):
    inputs, make = _problem(case, F64, op, torch.channels_last)
    _compare(lambda *a: make(dyconv)(*a) ** 2, lambda *a: make(reference)(*a) ** 2, inputs, f"{op}, channels_last")


@pytest.mark.parametrize("dtype", [F64, torch.bfloat16], ids=str)
def test_opcheck_channels_last(dtype):
    """The fake kernels give the real kernels' strides and dtypes (torch.library.opcheck compares them)."""
    x, w, scale, shift, bias = (t.detach() for t in make_problem(2, 3, 7, 6, 4, (3, 3), dtype, bias=True))
    x = x.to(memory_format=torch.channels_last)
    rg = lambda t: t.clone(memory_format=torch.preserve_format).requires_grad_()  # noqa: E731
    geo = ([1, 1], [2, 2], [2, 2])
    ops = torch.ops.dyconv
    _, conv_out, mean, rstd = ops.dynamic_conv_norm_act(x, w, scale, shift, *geo, "layer", "relu", 1e-5)
    grad = torch.randn(2, 4, 7, 6, dtype=dtype).to(memory_format=torch.channels_last)
    xt = torch.randn(2, 4, 5, 6, dtype=dtype).to(memory_format=torch.channels_last)  # w as (B, Cin=4, Cout=3, 3, 3)
    for op, args in [
        (ops.dynamic_conv2d.default, (rg(x), rg(w), rg(bias), *geo)),
        (ops.dynamic_conv2d_backward.default, (grad, x, w, *geo, [True, True, True])),
        (ops.dynamic_conv_norm_act.default, (rg(x), rg(w), rg(scale), rg(shift), *geo, "layer", "relu", 1e-5)),
        (ops.dynamic_conv_norm_act_backward.default,
         (grad, x, w, scale, shift, conv_out, mean, rstd, *geo, "layer", "relu", [True] * 4)),
        (ops.dynamic_conv_transpose2d.default, (rg(xt), rg(w), None, [2, 2], [1, 1], [1, 1], [1, 1])),
    ]:
        torch.library.opcheck(op, args)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_torch_compile_keeps_channels_last(dtype):
    torch._dynamo.reset()

    def layer(x, w, scale, shift, bias):
        y = dyconv.dynamic_conv_norm_act(x, w, scale, shift, dilation=2, norm="layer", activation="relu")
        return dyconv.dynamic_conv2d(y, w.transpose(1, 2).contiguous(), bias, padding=1)

    x, w, scale, shift, bias = make_problem(2, 3, 8, 9, 3, (3, 3), dtype, bias=True)
    x = x.detach().to(memory_format=torch.channels_last).requires_grad_()
    got, want = torch.compile(layer, fullgraph=True, backend="aot_eager")(x, w, scale, shift, bias), layer(
        x, w, scale, shift, bias)
    assert suggest_memory_format(got) == suggest_memory_format(want) == torch.channels_last
    assert got.dtype == want.dtype == dtype
    assert_close(got, want, dtype, "compiled output")
    (gx,) = torch.autograd.grad(got.sum(), x)
    assert suggest_memory_format(gx) == torch.channels_last


@pytest.mark.parametrize("dtype", [torch.float32, F64], ids=str)
@pytest.mark.parametrize("engine", list(GEOMETRIES) + ["several chunks"])
def test_channels_last_is_the_nchw_result_bitwise(engine, dtype, two_threads):
    """A channels_last x runs the NCHW kernels over chunks of samples transposed into a workspace, and the output
    (input gradient) is written back channels_last chunk by chunk (csrc/cpu/converted_chunks.h): every output of
    every op equals the contiguous call's, bitwise; the first one channels_last, the others as the contiguous call
    gives them. "several chunks": 23 samples of 8 channels at 128x128 run in several chunks on 2 threads (direct
    taps, a kernel of this library's own: no BLAS, whose rounding can depend on the thread)."""
    geometry = GEOMETRIES.get(engine, (23, 8, 128, 128, 8, 3, 1, 1, 1, 1))
    nchw = _tensors(geometry, dtype, torch.contiguous_format, seed=2)
    nhwc = tuple(t.to(memory_format=torch.channels_last) if t.dim() == 4 else t for t in nchw)
    assert nhwc[0].stride() != nchw[0].stride()
    for (name, op, args), (_, _, args_cl) in zip(_calls(geometry, *nchw), _calls(geometry, *nhwc)):
        got, want = op(*args_cl), op(*args)
        got, want = ((t,) if isinstance(t, torch.Tensor) else t for t in (got, want))
        assert suggest_memory_format(got[0]) == torch.channels_last, f"{name}: output 0 not channels_last"
        for i, (a, b) in enumerate(zip(got, want)):
            assert a.dtype == b.dtype and (i == 0 or a.stride() == b.stride()), f"{name}: output {i} dtype/strides"
            assert torch.equal(a, b), f"{name}: output {i} differs from the contiguous call's"
