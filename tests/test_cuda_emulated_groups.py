"""The CUDA kernels' channel groups, depthwise and transposed paths, run on CPU by the
block emulator (tests/helpers/cuda_emulation.py), against dyconv.reference in float64.

Grouped convolutions run the GEMM kernels on the folded problem (each (sample, group)
a sample); depthwise ones (groups == Cin) the direct kernels of
csrc/cuda/depthwise_kernels.cuh; dynamic_conv_transpose2d the dgrad pass, its
gradients the forward conv and the wgrad (dyconv/_formulas.py, with the emulated
ops plugged in). Shapes are small and odd: two channel tiles per group, groups 2
and 3, split-K wgrad, depthwise k3 dilation 2, k5 with channel multiplier 2 and
stride 2, k7 (several tap batches of the wgrad), output_padding 1, B = 1 and B = 5.
"""
from __future__ import annotations

import shutil

import pytest
import torch

from dyconv import _formulas, reference

from helpers import cuda_emulation
from test_cuda_emulated import TOL, assert_close

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not found (the emulation compiles with it)")

# name: (B, Cin, Cout, H, W, kH, kW, stride, padding, dilation, groups)
SHAPES = {
    "g2_cout140_2_tiles_per_group": (2, 4, 140, 7, 9, 3, 2, (1, 1), (2, 1), (2, 3), 2),
    "g3_stride2_b5": (5, 6, 9, 11, 8, 3, 3, (2, 2), (1, 1), (1, 1), 3),
    "g2_b1_splitk": (1, 4, 6, 12, 20, 1, 3, (1, 2), (0, 1), (1, 1), 2),
    "dw_k3_d2_b5": (5, 4, 4, 9, 10, 3, 3, (1, 1), (2, 2), (2, 2), 4),
    "dw_k5_mult2_stride2_b1": (1, 3, 6, 11, 9, 5, 5, (2, 2), (2, 2), (1, 1), 3),
    "dw_k7": (2, 5, 5, 8, 11, 7, 7, (1, 1), (3, 3), (1, 1), 5),
}
GROUPED = ["g2_cout140_2_tiles_per_group", "g3_stride2_b5"]
DEPTHWISE = ["dw_k3_d2_b5", "dw_k5_mult2_stride2_b1", "dw_k7"]


@pytest.fixture(scope="module")
def emu():
    return cuda_emulation.load()


def make_inputs(shape, dtype=torch.float32, seed=0):
    B, Cin, Cout, H, W, kH, kW, *_, groups = shape
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, Cin, H, W, generator=g)
    w = torch.randn(B, Cout, Cin // groups, kH, kW, generator=g) / (Cin // groups * kH * kW) ** 0.5
    bias = torch.randn(B, Cout, generator=g)
    scale = 1 + 0.5 * torch.randn(B, Cout, generator=g)
    shift = 0.5 * torch.randn(B, Cout, generator=g)
    return [t.to(dtype) for t in (x, w, bias, scale, shift)]


def params(shape):
    """stride, padding, dilation, groups"""
    return shape[7], shape[8], shape[9], shape[10]


# ---------------------------------------------------------------- dynamic_conv2d

@pytest.mark.parametrize("name", SHAPES)
def test_conv2d_forward_and_backward(emu, name):
    shape = SHAPES[name]
    x, w, bias, _, _ = make_inputs(shape)
    stride, padding, dilation, groups = params(shape)
    y = emu.dynamic_conv2d(x, w, bias, stride, padding, dilation, groups)
    leaves = [t.double().requires_grad_() for t in (x, w, bias)]
    ref = reference.dynamic_conv2d(*leaves, stride=stride, padding=padding, dilation=dilation, groups=groups)
    assert_close(y, ref.detach(), torch.float32, f"{name} y")
    grad_out = torch.randn(ref.shape, generator=torch.Generator().manual_seed(1))
    refs = torch.autograd.grad(ref, leaves, grad_out.double())
    grads = emu.dynamic_conv2d_backward(grad_out, x, w, stride, padding, dilation, [True] * 3, groups)
    for got, want, what in zip(grads, refs, ("dx", "dweight", "dbias")):
        assert_close(got, want, torch.float32, f"{name} {what}")


# ---------------------------------------------------------------- dynamic_conv_norm_act

def check_fused(emu, name, norm, act, dtype):
    shape = SHAPES[name]
    x, w, _, scale, shift = make_inputs(shape, dtype)
    stride, padding, dilation, groups = params(shape)
    out, conv_out, mean, rstd = emu.dynamic_conv_norm_act(x, w, scale, shift, stride, padding, dilation,
                                                          norm, act, 1e-5, groups)
    grad_out = torch.randn(out.shape, generator=torch.Generator().manual_seed(2)).to(dtype)
    leaves = [t.double().requires_grad_() for t in (x, w, scale, shift)]
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    ref = reference.dynamic_conv_norm_act(*leaves, norm=norm, activation=act, eps=1e-5, **kw)
    ref_grads = torch.autograd.grad(ref, leaves, grad_out.double())
    tag = f"{name} {norm}/{act} {dtype}"
    assert_close(out, ref.detach(), dtype, f"{tag} out")
    ref_y = reference.dynamic_conv2d(x.double(), w.double(), **kw)
    assert_close(conv_out, ref_y, dtype, f"{tag} conv_out")
    if norm != "none":
        dims = (1, 2, 3) if norm == "layer" else (2, 3)
        var, mu = torch.var_mean(ref_y, dim=dims, unbiased=False)
        assert_close(mean, mu.reshape(mean.shape), dtype, f"{tag} mean")
        assert_close(rstd, (var + 1e-5).rsqrt().reshape(rstd.shape), dtype, f"{tag} rstd")
    grads = emu.dynamic_conv_norm_act_backward(grad_out, x, w, scale, shift, conv_out, mean, rstd, stride,
                                               padding, dilation, norm, act, [True] * 4, groups)
    for got, want, what in zip(grads, ref_grads, ("dx", "dweight", "dscale", "dshift")):
        assert_close(got, want, dtype, f"{tag} {what}")


@pytest.mark.parametrize("norm,act", [("layer", "relu"), ("instance", "sigmoid"), ("none", "relu")])
@pytest.mark.parametrize("name", GROUPED + DEPTHWISE[:2])
def test_fused_every_norm(emu, name, norm, act):
    check_fused(emu, name, norm, act, torch.float32)


@pytest.mark.parametrize("norm", ["layer", "instance"])
def test_fused_statistics_of_groups_over_two_pixel_tiles(emu, norm):
    """120 output pixels: two tiles of the GEMM epilogue's statistics per (sample, group), the last partial."""
    check_fused(emu, "g2_b1_splitk", norm, "sigmoid", torch.float32)


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
@pytest.mark.parametrize("name", ["g3_stride2_b5", "dw_k7"])
def test_fused_storage_dtypes(emu, name, dtype):
    check_fused(emu, name, "instance", "sigmoid", dtype)


def test_fused_layer_norm_half_depthwise(emu):
    check_fused(emu, "dw_k3_d2_b5", "layer", "none", torch.float16)


# ---------------------------------------------------------------- dynamic_conv_transpose2d

# name: (B, Cin, Cout, H, W, k, stride, padding, output_padding, dilation, groups), of the transposed conv
TRANSPOSED = {
    "s2_outpad1_b1_2_tiles": (1, 5, 70, 4, 5, 3, (2, 2), (1, 1), (1, 1), (1, 1), 1),
    "g2_s2_outpad_1x0_b5": (5, 4, 6, 3, 4, 3, (2, 2), (1, 0), (1, 0), (1, 1), 2),
    "g3_dilation2": (2, 6, 3, 5, 4, 3, (1, 1), (2, 1), (0, 0), (2, 2), 3),
    "depthwise_s2_outpad1": (2, 4, 4, 5, 6, 3, (2, 2), (1, 1), (1, 1), (1, 1), 4),
    "depthwise_mult2_k5_d2": (1, 3, 6, 4, 5, 5, (1, 2), (2, 1), (0, 1), (2, 1), 3),
}


def emulated_ops(emu):
    """dyconv/_formulas.py's ConvOps with the emulated kernels."""
    return _formulas.ConvOps(
        conv=lambda x, w, b, s, p, d, g: emu.dynamic_conv2d(x, w, b, s, p, d, g),
        conv_backward=lambda go, x, w, s, p, d, g, mask: emu.dynamic_conv2d_backward(go, x, w, s, p, d, mask, g),
    )


@pytest.mark.parametrize("dtype", [torch.float32])
@pytest.mark.parametrize("name", TRANSPOSED)
def test_conv_transpose2d_values_and_gradients(emu, name, dtype):
    B, Cin, Cout, H, W, k, stride, padding, output_padding, dilation, groups = TRANSPOSED[name]
    g = torch.Generator().manual_seed(3)
    x = torch.randn(B, Cin, H, W, generator=g).to(dtype)
    w = (torch.randn(B, Cin, Cout // groups, k, k, generator=g) / (Cin // groups * k * k) ** 0.5).to(dtype)
    bias = torch.randn(B, Cout, generator=g).to(dtype)
    y = emu.dynamic_conv_transpose2d(x, w, bias, stride, padding, output_padding, groups, dilation)
    leaves = [t.double().requires_grad_() for t in (x, w, bias)]
    ref = reference.dynamic_conv_transpose2d(*leaves, stride, padding, output_padding, groups, dilation)
    assert_close(y, ref.detach(), dtype, f"{name} y")
    grad_out = torch.randn(ref.shape, generator=torch.Generator().manual_seed(4)).to(dtype)
    refs = torch.autograd.grad(ref, leaves, grad_out.double())
    grads = _formulas.conv_transpose_backward(emulated_ops(emu), x, w, grad_out,
                                              (stride, padding, dilation, groups), (True, True, True), True)
    for got, want, what in zip(grads, refs, ("dx", "dweight", "dbias")):
        assert_close(got, want, dtype, f"{name} {what}")


def test_conv_transpose2d_without_bias_bfloat16(emu):
    B, Cin, Cout, H, W, k, stride, padding, output_padding, dilation, groups = TRANSPOSED["g2_s2_outpad_1x0_b5"]
    g = torch.Generator().manual_seed(5)
    x = torch.randn(B, Cin, H, W, generator=g).bfloat16()
    w = torch.randn(B, Cin, Cout // groups, k, k, generator=g).bfloat16()
    y = emu.dynamic_conv_transpose2d(x, w, None, stride, padding, output_padding, groups, dilation)
    ref = reference.dynamic_conv_transpose2d(x.double(), w.double(), None, stride, padding, output_padding,
                                             groups, dilation)
    assert_close(y, ref, torch.bfloat16, "y")
