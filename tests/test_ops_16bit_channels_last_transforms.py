"""The support table's bfloat16 / float16 and channels_last rows on the CPU beyond values and gradients:
torch.func (jvp, grad, per-sample gradients), forward-mode AD and torch.export, for the conv and the fused op
(bfloat16 also on layers wide enough for the AMX kernels),
against the same transforms of the float64 reference on the same values, with the dtype's tolerance; and the 1-D
ops in 16-bit: second order, torch.compile and torch.export.

Values, first-order gradients, opcheck and compile over dtypes and memory formats: tests/test_ops_memory_format.py;
bitwise against the float32 op: tests/test_ops_bf16_half_cpu.py; the same transforms in float64:
tests/test_ops_transforms.py."""
import pytest
import torch
import torch.autograd.forward_ad as fwAD
from torch import func
from torch._prims_common import suggest_memory_format

import dyconv
from dyconv import reference
from conftest import assert_close, make_problem
from test_ops_bf16_half_cpu import _hvp
from test_ops_conv1d import CONV_CASES, TRANSPOSE_CASES, conv_problem, transpose_problem
from test_ops_transforms import TRANSFORMS, _matches

F64 = torch.float64
# name -> (dtype, memory format of x)
VARIANTS = {
    "bfloat16": (torch.bfloat16, torch.contiguous_format),
    "float16": (torch.float16, torch.contiguous_format),
    "channels_last-float32": (torch.float32, torch.channels_last),
    "channels_last-bfloat16": (torch.bfloat16, torch.channels_last),
    "bfloat16-wide": (torch.bfloat16, torch.contiguous_format),  # wide enough for the AMX kernels, where present
}
# name -> (Cin, H, W, Cout); others: SIZES["default"]
SIZES = {"default": (3, 6, 7, 4), "bfloat16-wide": (16, 12, 12, 16)}
OPS = {
    "conv": lambda m: lambda x, w, b: m.dynamic_conv2d(x, w, b, padding=1, dilation=(1, 2)),
    "fused": lambda m: lambda x, w, s, t: m.dynamic_conv_norm_act(x, w, s, t, dilation=2, norm="layer",
                                                                  activation="sigmoid"),
}

pytestmark = pytest.mark.usefixtures("torch_jvp_decompositions")  # torch's own warnings (conftest)


def _inputs(op, variant, B=2, seed=3):
    """The op's inputs in the variant's dtype and x's memory format, and the same values in float64."""
    dtype, fmt = VARIANTS[variant]
    Cin, H, W, Cout = SIZES.get(variant, SIZES["default"])
    x, w, scale, shift, bias = (t.detach() for t in make_problem(B, Cin, H, W, Cout, (3, 2), F64, seed=seed, bias=True))
    inputs = (x, w, bias) if op == "conv" else (x, w, scale, shift)
    low = tuple(t.to(dtype) for t in inputs)
    low = (low[0].to(memory_format=fmt),) + low[1:]
    return low, tuple(t.to(F64) for t in low)


def test_the_wide_variant_takes_the_amx_kernels_where_the_cpu_has_them():
    Cin, H, W, Cout = SIZES["bfloat16-wide"]
    engine = dyconv.cpu_engine_for(torch.empty(2, Cin, H, W, dtype=torch.bfloat16), (2, Cout, Cin, 3, 2), padding=1,
                                   dilation=(1, 2))
    if engine != "amx-bf16" and dyconv.cpu_engine_for(torch.empty(2, 16, 12, 12, dtype=torch.bfloat16),
                                                       (2, 16, 16, 3, 3), padding=1) != "amx-bf16":
        pytest.skip("this CPU has no AMX-BF16")
    assert engine == "amx-bf16"


@pytest.mark.parametrize("transform", ["jvp", "grad", "vmap"])
@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_torch_func_matches_the_float64_reference(variant, op, transform):
    dtype, fmt = VARIANTS[variant]
    low, exact = _inputs(op, variant)
    v = torch.randn(OPS[op](reference)(*exact).shape, generator=torch.Generator().manual_seed(7)).to(dtype)
    # jvp's tangents are drawn in float64 by the transform: the same values in the low dtype for dyconv
    tangents = [torch.randn(t.shape, generator=torch.Generator().manual_seed(100 + i)).to(dtype)
                for i, t in enumerate(low)]
    if transform == "jvp":
        got = func.jvp(OPS[op](dyconv), low, tuple(tangents))
        want = func.jvp(OPS[op](reference), exact, tuple(t.to(F64) for t in tangents))
        assert suggest_memory_format(got[0]) == fmt
    else:
        got = TRANSFORMS[transform](OPS[op](dyconv), low, v)
        want = TRANSFORMS[transform](OPS[op](reference), exact, v.to(F64))
    _matches(got, want, f"{variant} {op} {transform}", dtype)


@pytest.mark.parametrize("variant", VARIANTS)
def test_forward_ad_matches_the_float64_reference(variant):
    dtype, _ = VARIANTS[variant]
    low, exact = _inputs("fused", variant)
    tangents = [torch.randn(t.shape, generator=torch.Generator().manual_seed(50 + i)).to(dtype)
                for i, t in enumerate(low)]
    results = []
    for mod, inputs, tans in ((dyconv, low, tangents), (reference, exact, [t.to(F64) for t in tangents])):
        with fwAD.dual_level():
            out = OPS["fused"](mod)(*(fwAD.make_dual(p, t) for p, t in zip(inputs, tans)))
            results.append(fwAD.unpack_dual(out)[:2])
    _matches(*results, f"{variant} forward_ad", dtype)


@pytest.mark.parametrize("variant", VARIANTS)
def test_torch_export_with_a_dynamic_batch_is_eager(variant):
    """The exported program runs the same kernels: bitwise the eager result, in the same dtype and memory format."""
    from torch.export import Dim, export

    class Layer(torch.nn.Module):
        def forward(self, x, w, scale, shift, w2, bias):
            return OPS["conv"](dyconv)(OPS["fused"](dyconv)(x, w, scale, shift), w2, bias)

    def inputs(B):
        (x, w, scale, shift), _ = _inputs("fused", variant, B=B, seed=B)
        gen = torch.Generator().manual_seed(B)
        C = w.shape[1]
        w2 = (torch.randn(B, C, C, 3, 3, generator=gen) / (9 * C) ** 0.5).to(w.dtype)
        return x, w, scale, shift, w2, torch.randn(B, C, generator=gen).to(w.dtype)

    program = export(Layer(), inputs(3), dynamic_shapes=tuple({0: Dim("batch")} for _ in range(6)))
    for B in (2, 5):
        got, want = program.module()(*inputs(B)), Layer()(*inputs(B))
        assert got.dtype == want.dtype and suggest_memory_format(got) == suggest_memory_format(want)
        assert torch.equal(got, want), f"{variant}: exported at batch {B} differs from eager"


@pytest.mark.parametrize("low", [torch.bfloat16, torch.float16], ids=str)
def test_1d_ops_16_bit_second_order_compile_and_export(low):
    """dynamic_conv1d and dynamic_conv_transpose1d in 16-bit: first and second-order gradients (Hessian-vector
    products) against the float64 reference on the same values, with the dtype's tolerance; torch.compile and
    torch.export of a layer of both give the eager result."""
    from torch.export import Dim, export

    (x, w, bias), kw = conv_problem(CONV_CASES[0], F64)
    (xt, wt, bias_t), args = transpose_problem(TRANSPOSE_CASES[1], F64)
    squared = {"conv1d": lambda m: lambda *a: m.dynamic_conv1d(*a, **kw) ** 2,  # noqa: E731  non-zero 2nd derivative
               "conv_transpose1d": lambda m: lambda *a: m.dynamic_conv_transpose1d(*a, *args) ** 2}
    for name, tensors in (("conv1d", (x, w, bias)), ("conv_transpose1d", (xt, wt, bias_t))):
        inputs = [t.detach().to(low).requires_grad_() for t in tensors]
        exact = [t.detach().to(F64).requires_grad_() for t in inputs]
        gen = torch.Generator().manual_seed(5)  # v and u: the same values for both dtypes
        v = torch.randn(squared[name](reference)(*exact).shape, generator=gen, dtype=F64).to(low).to(F64)
        u = [torch.randn(t.shape, generator=gen, dtype=F64).to(low).to(F64) for t in inputs]
        got, want = _hvp(squared[name](dyconv), inputs, v, u), _hvp(squared[name](reference), exact, v, u)
        for order, (gs, ws) in enumerate(zip(got, want), 1):
            for i, (a, b) in enumerate(zip(gs, ws)):
                assert a.dtype == low
                assert_close(a.to(F64), b, low, f"{name}, order {order}, grad {i}")

    # conv1d (B, 3 -> 4 channels), then a transposed conv back to 3 channels with the conv's weight
    def layer(x, w, bias):
        return dyconv.dynamic_conv_transpose1d(dyconv.dynamic_conv1d(x, w, bias, **kw), w, None, 1, 2, 0, 1, 2)

    inputs = [t.detach().to(low) for t in (x, w, bias)]
    eager = layer(*inputs)
    torch._dynamo.reset()
    assert torch.equal(torch.compile(layer, fullgraph=True, backend="aot_eager")(*inputs), eager)

    class Layer(torch.nn.Module):
        def forward(self, x, w, bias):
            return layer(x, w, bias)

    program = export(Layer(), tuple(inputs), dynamic_shapes=tuple({0: Dim("batch")} for _ in range(3)))
    assert torch.equal(program.module()(*inputs), eager)
    more = [torch.cat([t, 2 * t, -t]) for t in inputs]  # another batch size through the same program
    assert torch.equal(program.module()(*more), layer(*more))


WIDE_1D = (2, 32, 200, 32, 3, 1, "same", 4, 1)  # 32 -> 32 channels, 200 outputs: the AMX kernels in bfloat16


@pytest.mark.parametrize("transform", ["jvp", "grad", "vmap"])
@pytest.mark.parametrize("low", [torch.bfloat16, torch.float16], ids=str)
def test_1d_ops_torch_func_16_bit(low, transform):
    """dynamic_conv1d and dynamic_conv_transpose1d in 16-bit under torch.func against the same transforms of the
    float64 reference on the same values, with the dtype's tolerance."""
    cases = []
    for case in (CONV_CASES[0], WIDE_1D):
        tensors, kw = conv_problem(case, F64)
        cases.append((f"conv1d {case}", tensors,
                      lambda m, kw=kw: lambda *a: m.dynamic_conv1d(*a, **kw)))
    tensors, args = transpose_problem(TRANSPOSE_CASES[1], F64)
    cases.append(("conv_transpose1d", tensors, lambda m: lambda *a: m.dynamic_conv_transpose1d(*a, *args)))
    for name, tensors, op in cases:
        low_inputs = tuple(t.detach().to(low) for t in tensors)
        exact = tuple(t.to(F64) for t in low_inputs)
        if transform == "jvp":
            tangents = [torch.randn(t.shape, generator=torch.Generator().manual_seed(100 + i)).to(low)
                        for i, t in enumerate(low_inputs)]
            got = func.jvp(op(dyconv), low_inputs, tuple(tangents))
            want = func.jvp(op(reference), exact, tuple(t.to(F64) for t in tangents))
        else:
            v = torch.randn(op(reference)(*exact).shape, generator=torch.Generator().manual_seed(7)).to(low)
            got = TRANSFORMS[transform](op(dyconv), low_inputs, v)
            want = TRANSFORMS[transform](op(reference), exact, v.to(F64))
        _matches(got, want, f"{name} {low} {transform}", low)
