"""bfloat16 and float16 on the CPU (csrc/cpu/converted_chunks.h): every op, forward and backward, is the float32 op
on the same values rounded once to the input's dtype, bitwise, on every engine and in both memory formats, also
over batches of several chunks; second-order gradients against the float64 reference. With the AMX bfloat16 kernels
off (DYCONV_AMX=0): where they apply, they are tested on their own contract in tests/test_ops_amx_bf16.py.

Values and first-order gradients against the float64 reference over memory formats, opcheck and torch.compile:
tests/test_ops_memory_format.py; the 1-D ops: tests/test_ops_conv1d.py; autocast: tests/test_ops_autocast.py.
"""
import pytest
import torch

import dyconv
from dyconv import reference
from conftest import assert_close

ops = torch.ops.dyconv
F64 = torch.float64
# engine (or depthwise kernel) -> (B, Cin, H, W, Cout, k, stride, padding, dilation, groups) that takes it.
GEOMETRIES = {
    "direct": (2, 3, 7, 9, 4, 3, 1, 1, 2, 1),
    "winograd": (2, 40, 10, 10, 40, 3, 1, 1, 1, 1),
    "shifted": (2, 24, 10, 11, 32, 5, 1, 2, 1, 1),
    "im2col": (3, 8, 9, 8, 12, 3, 2, 1, 1, 2),  # grouped: each group a sample
    "phases": (2, 8, 20, 20, 8, 3, 2, 1, 1, 1),
    "depthwise-lanes": (3, 6, 6, 7, 12, 3, 1, 1, 1, 6),
    "depthwise": (2, 6, 17, 16, 6, 3, 2, 1, 1, 6),
}
# float16 runs the same code as bfloat16 with another conversion: one memory format each.
DTYPE_FORMATS = [(torch.bfloat16, torch.contiguous_format), (torch.bfloat16, torch.channels_last),
                 (torch.float16, torch.channels_last)]


@pytest.fixture(autouse=True)
def _no_amx(monkeypatch):
    monkeypatch.setenv("DYCONV_AMX", "0")


def _tensors(geometry, dtype, fmt, seed=0):
    """x, weight, bias, scale, shift and grad_out of the conv, in dtype; x and grad_out in memory format fmt."""
    B, Cin, H, W, Cout, k, s, p, d, g = geometry
    gen = torch.Generator().manual_seed(seed)
    r = lambda *shape: torch.randn(shape, generator=gen).to(dtype)  # noqa: E731
    Hout, Wout = (H + 2 * p - d * (k - 1) - 1) // s + 1, (W + 2 * p - d * (k - 1) - 1) // s + 1
    x, w = r(B, Cin, H, W).to(memory_format=fmt), (r(B, Cout, Cin // g, k, k) / (Cin // g * k * k) ** 0.5).to(dtype)
    grad_out = r(B, Cout, Hout, Wout).to(memory_format=fmt)
    return x, w, r(B, Cout), (1 + 0.5 * r(B, Cout)).to(dtype), r(B, Cout) / 2, grad_out


def _calls(geometry, x, w, bias, scale, shift, grad_out, fused=(("layer", "relu"), ("instance", "sigmoid"))):
    """(name, op, args) of every CPU op on these tensors, the fused op with each (norm, activation) of `fused`."""
    B, Cin, H, W, Cout, k, s, p, d, g = geometry
    geo = ([s, s], [p, p], [d, d])
    calls = [("conv", ops.dynamic_conv2d.default, (x, w, bias, *geo, g)),
             ("conv backward", ops.dynamic_conv2d_backward.default, (grad_out, x, w, *geo, [True] * 3, g)),
             # the adjoint of the conv: grad_out as its input, the same weight (B, Cout, Cin / g, k, k), a bias (B, Cin)
             ("transposed", ops.dynamic_conv_transpose2d.default,
              (grad_out, w, x[:, :, 0, 0], [s, s], [p, p], [0, 0], [d, d], g))]
    for norm, act in fused:
        args = (x, w, scale, shift, *geo, norm, act, 1e-5, g)
        _, conv_out, mean, rstd = ops.dynamic_conv_norm_act(*args)
        calls += [(f"fused {norm} {act}", ops.dynamic_conv_norm_act.default, args),
                  (f"fused backward {norm} {act}", ops.dynamic_conv_norm_act_backward.default,
                   (grad_out, x, w, scale, shift, conv_out, mean, rstd, *geo, norm, act, [True] * 4, g))]
    return calls


def _float32(args):
    return tuple(a.float() if isinstance(a, torch.Tensor) else a for a in args)


def _assert_rounded_float32(name, op, args):
    """op(args) in their 16-bit dtype == op on their float32 values, rounded once; same strides."""
    got, want = op(*args), op(*_float32(args))
    for i, (a, b) in enumerate(zip(*((t,) if isinstance(t, torch.Tensor) else t for t in (got, want)))):
        assert a.dtype == args[0].dtype, f"{name}: output {i} dtype"
        assert a.stride() == b.stride() or a.numel() == 0, f"{name}: output {i} strides {a.stride()} != {b.stride()}"
        assert torch.equal(a, b.to(a.dtype)), f"{name}: output {i} is not the float32 result rounded once"


@pytest.mark.parametrize("dtype,fmt", DTYPE_FORMATS, ids=[f"{d}-{f}" for d, f in DTYPE_FORMATS])
@pytest.mark.parametrize("engine", GEOMETRIES)
def test_every_op_is_the_float32_op_rounded_once(engine, dtype, fmt):
    geometry = GEOMETRIES[engine]
    B, Cin, H, W, Cout, k, s, p, d, g = geometry
    assert dyconv.cpu_engine_for((B, Cin, H, W), (B, Cout, Cin // g, k, k), stride=s, padding=p, dilation=d,
                                 groups=g) == engine
    for name, op, args in _calls(geometry, *_tensors(geometry, dtype, fmt)):
        _assert_rounded_float32(f"{engine}: {name}", op, args)


@pytest.mark.parametrize("geometry", [(23, 8, 128, 128, 8, 3, 1, 1, 1, 1), (231, 64, 8, 8, 64, 3, 1, 1, 1, 64)],
                         ids=["direct", "depthwise-lanes"])
def test_batches_of_several_chunks_are_exact(geometry, two_threads):
    """With 2 threads these batches run in several chunks, the forward conv in 6 + 17 samples (the rest of 11 alone
    would be split between threads: the last chunk takes it) and 220 + 11; on kernels of this library's own (no
    BLAS, whose rounding can depend on the thread: csrc/cpu/converted_chunks.h)."""
    tensors = _tensors(geometry, torch.bfloat16, torch.channels_last, seed=1)
    for name, op, args in _calls(geometry, *tensors, fused=(("layer", "relu"),)):
        _assert_rounded_float32(name, op, args)


def _hvp(fn, inputs, v, u):
    """First-order gradients of <fn(inputs), v> and the gradients of <those, u>."""
    out = fn(*inputs)
    grads = torch.autograd.grad(out, inputs, v.to(out.dtype), create_graph=True)
    inner = sum((gr * ui.to(gr.dtype)).sum() for gr, ui in zip(grads, u))
    return grads, torch.autograd.grad(inner, inputs)


# The conv in both dtypes and formats but float16 contiguous, the others once.
SECOND_ORDER = [("conv", torch.bfloat16, torch.contiguous_format)] + [
    (op, dtype, torch.channels_last) for op, dtype in (("conv", torch.bfloat16), ("conv", torch.float16),
                                                       ("fused", torch.bfloat16), ("transposed", torch.bfloat16))]


@pytest.mark.parametrize("op,dtype,fmt", SECOND_ORDER, ids=[f"{o}-{d}-{f}" for o, d, f in SECOND_ORDER])
def test_second_order_matches_reference(op, dtype, fmt):
    """Hessian-vector products of out^2 (bilinear, so not zero) against float64 on the same values. The fused op's
    double backward is its composite form (torch ops in the 16-bit dtype); sigmoid, as in
    tests/test_ops_memory_format.py."""
    B, Cin, H, W, Cout, k, s, p, d, g = GEOMETRIES["im2col"]
    x, w, bias, scale, shift, _ = _tensors((B, Cin, H, W, Cout, k, s, p, d, g), dtype, fmt)
    kw = dict(stride=s, padding=p, dilation=d, groups=g)
    if op == "conv":
        inputs, fn = (x, w, bias), lambda m: lambda *a: m.dynamic_conv2d(*a, **kw) ** 2
    elif op == "fused":
        inputs, fn = (x, w, scale, shift), lambda m: lambda *a: m.dynamic_conv_norm_act(
            *a, norm="instance", activation="sigmoid", **kw) ** 2
    else:
        xt = torch.randn(B, Cin, H, W, generator=torch.Generator().manual_seed(2)).to(dtype).to(memory_format=fmt)
        wt = w.transpose(1, 2).reshape(B, Cin, Cout // g, k, k).contiguous()  # any (B, Cin, Cout / g, k, k)
        inputs, fn = (xt, wt, bias), lambda m: lambda *a: m.dynamic_conv_transpose2d(a[0], a[1], a[2], s, p, s - 1,
                                                                                      g, d) ** 2
    inputs = [t.requires_grad_() for t in inputs]
    inputs64 = [t.detach().to(F64).requires_grad_() for t in inputs]
    gen = torch.Generator().manual_seed(3)
    v = torch.randn(fn(reference)(*inputs64).shape, generator=gen, dtype=F64).to(dtype).to(F64)
    u = [torch.randn(t.shape, generator=gen, dtype=F64).to(dtype).to(F64) for t in inputs]
    got, want = _hvp(fn(dyconv), inputs, v, u), _hvp(fn(reference), inputs64, v, u)
    for order, (gs, ws) in enumerate(zip(got, want), 1):
        for i, (a, b) in enumerate(zip(gs, ws)):
            assert a.dtype == dtype, f"order {order} grad {i} dtype"
            assert_close(a.to(F64), b, dtype, f"{op}: order {order} grad {i}")
