"""The CUDA kernels (csrc/cuda/*.cu), run on CPU by the block emulator, against dyconv.reference.

Same kernel sources as the GPU build, compiled as host C++ (tests/helpers/cuda_emulation.py):
every block runs its 256 threads as real threads meeting at __syncthreads(), so
indexing, tiling and reduction bugs fail here without a GPU. Shapes are small and
odd: partial tiles in every GEMM dimension, dilation wider than the input, stride 2,
split-K weight gradients, B = 1 and B = 5.
"""
from __future__ import annotations

import shutil

import pytest
import torch

import dyconv
from dyconv import reference

from helpers import cuda_emulation

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not found (the emulation compiles with it)")

# name: (B, Cin, Cout, H, W, kH, kW, stride, padding, dilation)
SHAPES = {
    "b1_3x3": (1, 3, 5, 7, 9, 3, 3, (1, 1), (1, 1), (1, 1)),
    "b2_cout70_2x3tiles": (2, 2, 70, 9, 11, 3, 2, (1, 1), (2, 1), (2, 3)),
    "dilation_wider_than_input": (5, 3, 4, 5, 6, 3, 3, (1, 1), (4, 4), (4, 4)),
    "stride2": (2, 5, 3, 11, 8, 3, 3, (2, 2), (1, 1), (1, 1)),
    "cin67_stride_1x2_splitk": (1, 67, 6, 12, 20, 1, 3, (1, 2), (0, 1), (1, 1)),
    "b5_320px_splitk": (5, 2, 3, 16, 20, 3, 3, (1, 1), (2, 2), (2, 2)),
}
NORMS = ("layer", "instance", "none")
ACTS = ("relu", "sigmoid", "none")
# Tolerance relative to the largest reference value (float32/64 accumulate in their own
# type, half/bfloat16 in float32 and round every stored tensor).
TOL = {torch.float64: 1e-10, torch.float32: 3e-5, torch.float16: 1.5e-2, torch.bfloat16: 8e-2}


@pytest.fixture(scope="module")
def emu():
    return cuda_emulation.load()


def make_inputs(shape, dtype=torch.float32, seed=0):
    B, Cin, Cout, H, W, kH, kW, *_ = shape
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, Cin, H, W, generator=g)
    w = torch.randn(B, Cout, Cin, kH, kW, generator=g) / (Cin * kH * kW) ** 0.5
    bias = torch.randn(B, Cout, generator=g)
    scale = 1 + 0.5 * torch.randn(B, Cout, generator=g)
    shift = 0.5 * torch.randn(B, Cout, generator=g)
    return [t.to(dtype) for t in (x, w, bias, scale, shift)]


def conv_params(shape):
    return shape[7], shape[8], shape[9]


def assert_close(actual, expected, dtype, what):
    assert actual is not None and actual.shape == expected.shape, what
    assert not torch.isnan(actual).any(), f"{what}: elements left unwritten (NaN)"
    a, e = actual.double(), expected.double()
    scale = e.abs().max().item() + 1e-30
    err = (a - e).abs().max().item()
    assert err <= TOL[dtype] * max(scale, 1.0), f"{what}: max abs error {err:.3g} (scale {scale:.3g})"


# ---------------------------------------------------------------- dynamic_conv2d

@pytest.mark.parametrize("name", SHAPES)
@pytest.mark.parametrize("with_bias", [True, False])
def test_conv2d_forward(emu, name, with_bias):
    shape = SHAPES[name]
    x, w, bias, _, _ = make_inputs(shape)
    bias = bias if with_bias else None
    stride, padding, dilation = conv_params(shape)
    y = emu.dynamic_conv2d(x, w, bias, stride, padding, dilation)
    ref = reference.dynamic_conv2d(x.double(), w.double(), None if bias is None else bias.double(),
                                   stride=stride, padding=padding, dilation=dilation)
    assert_close(y, ref, torch.float32, f"{name} y")


def conv2d_reference_grads(x, w, bias, grad_out, stride, padding, dilation):
    x, w, bias = (t.double().requires_grad_() for t in (x, w, bias))
    y = reference.dynamic_conv2d(x, w, bias, stride=stride, padding=padding, dilation=dilation)
    return torch.autograd.grad(y, (x, w, bias), grad_out.double())


@pytest.mark.parametrize("name", SHAPES)
def test_conv2d_backward(emu, name):
    shape = SHAPES[name]
    x, w, bias, _, _ = make_inputs(shape)
    stride, padding, dilation = conv_params(shape)
    d = emu.dims(x, w, stride, padding, dilation)
    grad_out = torch.randn(d.B, d.Cout, d.Hout, d.Wout, generator=torch.Generator().manual_seed(1))
    refs = conv2d_reference_grads(x, w, bias, grad_out, stride, padding, dilation)
    grads = emu.dynamic_conv2d_backward(grad_out, x, w, stride, padding, dilation, [True] * 3)
    for got, ref, what in zip(grads, refs, ("dx", "dweight", "dbias")):
        assert_close(got, ref, torch.float32, f"{name} {what}")


@pytest.mark.parametrize("mask", [(True, False, False), (False, True, False), (False, False, True)])
def test_conv2d_backward_single_grads(emu, mask):
    shape = SHAPES["b2_cout70_2x3tiles"]
    x, w, bias, _, _ = make_inputs(shape)
    stride, padding, dilation = conv_params(shape)
    d = emu.dims(x, w, stride, padding, dilation)
    grad_out = torch.randn(d.B, d.Cout, d.Hout, d.Wout)
    refs = conv2d_reference_grads(x, w, bias, grad_out, stride, padding, dilation)
    grads = emu.dynamic_conv2d_backward(grad_out, x, w, stride, padding, dilation, list(mask))
    for got, ref, wanted in zip(grads, refs, mask):
        if wanted:
            assert_close(got, ref, torch.float32, f"mask {mask}")
        else:
            assert got is None


# ---------------------------------------------------------------- dynamic_conv_norm_act

def fused_reference(x, w, scale, shift, grad_out, params, norm, act, eps=1e-5):
    """out and (dx, dweight, dscale, dshift) in float64 by autograd through the reference."""
    stride, padding, dilation = params
    leaves = [t.double().requires_grad_() for t in (x, w, scale, shift)]
    out = reference.dynamic_conv_norm_act(*leaves, stride=stride, padding=padding,
                                          dilation=dilation, norm=norm, activation=act, eps=eps)
    grads = torch.autograd.grad(out, leaves, grad_out.double())
    return out.detach(), grads


def check_fused(emu, name, norm, act, dtype, mask=(True, True, True, True)):
    shape = SHAPES[name]
    x, w, _, scale, shift = make_inputs(shape, dtype)
    params = conv_params(shape)
    out, conv_out, mean, rstd = emu.dynamic_conv_norm_act(x, w, scale, shift, *params, norm, act, 1e-5)
    grad_out = torch.randn(out.shape, generator=torch.Generator().manual_seed(2)).to(dtype)
    ref_out, ref_grads = fused_reference(x, w, scale, shift, grad_out, params, norm, act)
    tag = f"{name} {norm}/{act} {dtype}"
    assert_close(out, ref_out, dtype, f"{tag} out")
    ref_y = reference.dynamic_conv2d(x.double(), w.double(), stride=params[0], padding=params[1],
                                     dilation=params[2])
    assert_close(conv_out, ref_y, dtype, f"{tag} conv_out")
    G = {"layer": 1, "instance": w.shape[1], "none": 0}[norm]
    assert mean.shape == rstd.shape == (x.shape[0], G)
    if norm != "none":
        dims = (1, 2, 3) if norm == "layer" else (2, 3)
        var, mu = torch.var_mean(ref_y, dim=dims, unbiased=False)
        assert_close(mean, mu.reshape(x.shape[0], G), dtype, f"{tag} mean")
        assert_close(rstd, (var + 1e-5).rsqrt().reshape(x.shape[0], G), dtype, f"{tag} rstd")
    grads = emu.dynamic_conv_norm_act_backward(grad_out, x, w, scale, shift, conv_out, mean, rstd,
                                               *params, norm, act, list(mask))
    for got, ref, wanted, what in zip(grads, ref_grads, mask, ("dx", "dweight", "dscale", "dshift")):
        if wanted:
            assert_close(got, ref, dtype, f"{tag} {what}")
        else:
            assert got is None


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("name", ["b2_cout70_2x3tiles", "dilation_wider_than_input", "stride2"])
def test_fused_every_norm_and_activation(emu, name, norm, act):
    check_fused(emu, name, norm, act, torch.float32)


@pytest.mark.parametrize("name", ["b1_3x3", "cin67_stride_1x2_splitk", "b5_320px_splitk"])
@pytest.mark.parametrize("norm", ["layer", "instance"])
def test_fused_other_shapes(emu, name, norm):
    check_fused(emu, name, norm, "sigmoid", torch.float32)


@pytest.mark.parametrize("mask", [(False, False, True, False), (False, False, False, True),
                                  (True, False, False, False), (False, True, True, False)])
def test_fused_backward_partial_masks(emu, mask):
    check_fused(emu, "b2_cout70_2x3tiles", "layer", "relu", torch.float32, mask)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("norm", NORMS)
def test_fused_storage_dtypes(emu, dtype, norm):
    check_fused(emu, "b2_cout70_2x3tiles", norm, "sigmoid", dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
def test_conv2d_storage_dtypes(emu, dtype):
    shape = SHAPES["b5_320px_splitk"]
    x, w, bias, _, _ = make_inputs(shape, dtype)
    stride, padding, dilation = conv_params(shape)
    y = emu.dynamic_conv2d(x, w, bias, stride, padding, dilation)
    grad_out = torch.randn(y.shape).to(dtype)
    refs = conv2d_reference_grads(x, w, bias, grad_out, stride, padding, dilation)
    ref_y = reference.dynamic_conv2d(x.double(), w.double(), bias.double(), stride=stride,
                                     padding=padding, dilation=dilation)
    assert_close(y, ref_y, dtype, "y")
    grads = emu.dynamic_conv2d_backward(grad_out, x, w, stride, padding, dilation, [True] * 3)
    for got, ref, what in zip(grads, refs, ("dx", "dweight", "dbias")):
        assert got.dtype == dtype
        assert_close(got, ref, dtype, what)


def test_matches_cpu_op_statistics(emu):
    """mean/rstd/conv_out of the emulated kernels equal the CPU op's (same layout, same math)."""
    shape = SHAPES["b2_cout70_2x3tiles"]
    x, w, _, scale, shift = make_inputs(shape)
    params = [list(p) for p in conv_params(shape)]
    for norm in ("layer", "instance"):
        cpu = torch.ops.dyconv.dynamic_conv_norm_act(x, w, scale, shift, *params, norm, "relu", 1e-5)
        got = emu.dynamic_conv_norm_act(x, w, scale, shift, *params, norm, "relu", 1e-5)
        for g, c, what in zip(got, cpu, ("out", "conv_out", "mean", "rstd")):
            assert_close(g, c, torch.float32, f"{norm} {what}")


# ---------------------------------------------------------------- emulator storage conversions

def test_half_and_bfloat16_conversions_match_torch(emu):
    bits = torch.arange(0, 1 << 16, dtype=torch.int32).to(torch.int16)
    for dtype, to_float in ((torch.float16, emu.lib.emu_half_to_float),
                            (torch.bfloat16, emu.lib.emu_bf16_to_float)):
        expected = bits.view(dtype).float()
        got = torch.tensor([to_float(int(b) & 0xFFFF) for b in bits.tolist()])
        assert torch.equal(got.isnan(), expected.isnan())
        ok = ~expected.isnan()
        assert torch.equal(got[ok], expected[ok]), dtype
    g = torch.Generator().manual_seed(0)
    values = torch.cat([
        torch.randn(4000, generator=g) * 10.0 ** torch.randint(-9, 6, (4000,), generator=g),
        torch.tensor([0.0, -0.0, 65504.0, 65519.0, 65520.0, 1e6, float("inf"), 2.0**-24, 2.0**-25,
                      3 * 2.0**-25, 2.0**-14 - 2.0**-25, 1.0 + 2.0**-11, 1.0 + 3 * 2.0**-11]),
        # halfway cases of bfloat16 rounding
        (torch.arange(1, 200, dtype=torch.int32) * 65536 + 32768).view(torch.float32),
    ])
    for dtype, from_float in ((torch.float16, emu.lib.emu_float_to_half),
                              (torch.bfloat16, emu.lib.emu_float_to_bf16)):
        expected = values.to(dtype).view(torch.int16).int() & 0xFFFF
        got = torch.tensor([from_float(v) for v in values.tolist()], dtype=torch.int32)
        mismatch = (got != expected).nonzero().flatten()
        assert mismatch.numel() == 0, f"{dtype}: {values[mismatch[:5]].tolist()}"
