"""The CPU depthwise kernel for small maps (csrc/cpu/depthwise_lanes.h: one (sample, channel) plane per
vector lane), in every compiled version (DYCONV_CPU_ISA): both conv ops' values and all gradients against
the float64 grouped F.conv2d, with plane counts that fill several lane blocks and end partway, channel
multipliers, strides, dilations, padding past the kernel's reach and kernels larger than the map."""
import pytest
import torch

import dyconv
from dyconv import reference
from conftest import assert_close

# (B, C, multiplier, H, W, kernel, stride, padding, dilation)
CASES = [
    (16, 9, 1, 4, 4, (3, 3), 1, 1, 1),  # EfficientNet's last stage: 144 planes, 9 blocks of 16
    (3, 7, 1, 4, 4, (5, 5), 1, 2, 1),  # 21 planes: a block and a tail
    (2, 5, 2, 8, 8, (5, 5), 2, 2, 1),  # strided, multiplier 2
    (3, 4, 3, 5, 7, (3, 2), (2, 1), (1, 0), (1, 2)),  # uneven strides, padding and dilation, multiplier 3
    (2, 3, 1, 3, 4, (7, 7), 1, 3, 1),  # kernel larger than the map
    (1, 2, 1, 4, 4, (3, 3), 1, 3, 1),  # padding past the kernel's reach: a 8x8 output with zero borders
]

ISAS = [None, "avx2", "baseline"]


def _ids(c):
    B, C, M, H, W, k, s, p, d = c
    return f"B{B}-C{C}-m{M}-{H}x{W}-k{k[0]}{k[1]}-s{s}-p{p}-d{d}".replace(" ", "")


@pytest.fixture(params=ISAS, ids=lambda i: i or "widest")
def isa(request, monkeypatch, two_threads):
    """A version the CPU cannot run falls back to the widest it can; two threads split the lane blocks."""
    if request.param:
        monkeypatch.setenv("DYCONV_CPU_ISA", request.param)
    return request.param


def _problem(case, dtype):
    B, C, M, H, W, k, s, p, d = case
    g = torch.Generator().manual_seed(0)
    x = torch.randn(B, C, H, W, generator=g, dtype=dtype)
    w = torch.randn(B, C * M, 1, *k, generator=g, dtype=dtype) / (k[0] * k[1]) ** 0.5
    bias = torch.randn(B, C * M, generator=g, dtype=dtype)
    return [t.requires_grad_() for t in (x, w, bias)], dict(stride=s, padding=p, dilation=d, groups=C)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_depthwise_small_maps_match_reference(case, dtype, isa):
    inputs, kw = _problem(case, dtype)
    x, w, _ = inputs
    assert dyconv.cpu_engine_for(x, w, **kw) == "depthwise-lanes"
    out, want = dyconv.dynamic_conv2d(*inputs, **kw), reference.dynamic_conv2d(*inputs, **kw)
    assert_close(out, want, dtype, "output")
    grad = torch.randn(out.shape, generator=torch.Generator().manual_seed(1), dtype=dtype)
    for name, got, exp in zip(("x", "weight", "bias"), torch.autograd.grad(out, inputs, grad),
                              torch.autograd.grad(want, inputs, grad)):
        assert_close(got, exp, dtype, f"grad {name}")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("case", [CASES[1], CASES[2]], ids=_ids)
def test_depthwise_small_maps_transposed(case, dtype, isa):
    """The transposed conv runs the kernel's input gradient with x as the output gradient."""
    B, C, M, H, W, k, s, p, d = case
    g = torch.Generator().manual_seed(2)
    x = torch.randn(B, C, H, W, generator=g, dtype=dtype, requires_grad=True)
    w = torch.randn(B, C, M, *k, generator=g, dtype=dtype, requires_grad=True)
    kw = dict(stride=s, padding=p, dilation=d, groups=C, output_padding=s - 1)
    out = dyconv.dynamic_conv_transpose2d(x, w, **kw)
    want = reference.dynamic_conv_transpose2d(x, w, **kw)
    assert_close(out, want, dtype, "output")
    grad = torch.randn(out.shape, generator=g, dtype=dtype)
    for name, got, exp in zip(("x", "weight"), torch.autograd.grad(out, (x, w), grad),
                              torch.autograd.grad(want, (x, w), grad)):
        assert_close(got, exp, dtype, f"grad {name}")


def test_larger_maps_keep_the_other_kernels():
    """Above 64 pixels a map keeps the folded engines (stride 1) or the strided depthwise kernel."""
    assert dyconv.cpu_engine_for((2, 6, 8, 8), (2, 6, 1, 3, 3), padding=1, groups=6) == "depthwise-lanes"
    assert dyconv.cpu_engine_for((2, 6, 8, 9), (2, 6, 1, 3, 3), padding=1, groups=6) != "depthwise-lanes"
    assert dyconv.cpu_engine_for((2, 6, 12, 12), (2, 6, 1, 3, 3), stride=2, padding=1, groups=6) == "depthwise"
    assert dyconv.cpu_engine_for((2, 6, 8, 8), (2, 12, 3, 3, 3), padding=1, groups=2) != "depthwise-lanes"
