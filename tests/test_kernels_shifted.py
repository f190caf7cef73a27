"""The CPU shifted engine (stride 1), with one GEMM per tap (DYCONV_CPU_ENGINE=shifted) and
with its taps summed in registers (direct; every compiled version of its kernels, chosen
with DYCONV_CPU_ISA): odd batches split across threads, padding anywhere between "valid"
and "same", dilations, non-square kernels, output blocks and pixel rows that end partway."""
import pytest
import torch

import dyconv
from dyconv import reference
from conftest import assert_close, large_range_errors, make_problem

# (B, Cin, H, W, Cout, kernel, padding, dilation)
CASES = [
    (1, 4, 9, 23, 5, (3, 3), "same", 1),  # one sample split between threads
    (3, 6, 12, 17, 4, (3, 3), "same", 4),  # odd batch: samples split in parts
    (3, 5, 10, 11, 1, (3, 3), "same", 1),  # one output channel (the paper's last layer)
    (2, 8, 9, 14, 6, (5, 3), (1, 2), (2, 1)),  # padding below "same"
    (1, 4, 8, 9, 3, (3, 3), "valid", 2),
    (5, 4, 7, 30, 7, (1, 1), 0, 1),
    # many row tiles, and the weight gradient's x padded in several chunks (the last one short)
    (3, 48, 57, 120, 40, (3, 3), "same", 2),
    # direct: one input channel; 13 and 7 outputs (blocks of 6 or 4 ending partway), 5 x 9
    # (input channel, tap) pairs (blocks of 6 or 4), rows of several pixel blocks plus a tail
    (2, 1, 6, 70, 13, (3, 3), "same", 1),
    (2, 5, 11, 133, 7, (3, 3), "same", 3),
]

ENGINES = [("shifted", None), ("direct", None), ("direct", "avx2"), ("direct", "baseline")]


@pytest.fixture(params=ENGINES, ids=lambda e: e[0] + (f"-{e[1]}" if e[1] else ""))
def engine(request, monkeypatch):
    """The engine forced (the automatic choice takes Winograd or direct taps for many of the
    3x3 cases), with two threads: the split of samples between threads needs more than one.
    A version of the direct kernels the CPU cannot run falls back to the widest it can."""
    name, isa = request.param
    monkeypatch.setenv("DYCONV_CPU_ENGINE", name)
    if isa:
        monkeypatch.setenv("DYCONV_CPU_ISA", isa)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield name
    torch.set_num_threads(before)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"B{c[0]}-{c[1]}x{c[2]}x{c[3]}-{c[4]}-k{c[5]}-p{c[6]}-d{c[7]}")
def test_shifted_engine_both_ops(case, dtype, engine):
    B, Cin, H, W, Cout, k, p, d = case
    x, w, scale, shift = make_problem(B, Cin, H, W, Cout, k, dtype)
    g = torch.Generator().manual_seed(1)
    for ours, ref, inputs, kw in (
        (dyconv.dynamic_conv2d, reference.dynamic_conv2d, (x, w), dict(padding=p, dilation=d)),
        (dyconv.dynamic_conv_norm_act, reference.dynamic_conv_norm_act, (x, w, scale, shift),
         dict(padding=p, dilation=d, norm="instance", activation="relu")),
    ):
        out, want = ours(*inputs, **kw), ref(*inputs, **kw)
        assert_close(out, want, dtype, "output")
        grad = torch.randn(out.shape, generator=g, dtype=dtype)
        for got, exp in zip(torch.autograd.grad(out, inputs, grad), torch.autograd.grad(want, inputs, grad)):
            assert_close(got, exp, dtype, "gradient")


@pytest.mark.parametrize("norm", ("layer", "instance", "none"))
@pytest.mark.parametrize("activation", ("relu", "sigmoid", "none"))
def test_shifted_engine_every_norm_and_activation(norm, activation, engine):
    x, w, scale, shift = make_problem(3, 6, 11, 37, 5, (3, 3), torch.float64)
    cast = [t.detach().float().requires_grad_() for t in (x, w, scale, shift)]
    kw = dict(padding="same", dilation=2, norm=norm, activation=activation)
    out, want = dyconv.dynamic_conv_norm_act(*cast, **kw), reference.dynamic_conv_norm_act(x, w, scale, shift, **kw)
    assert_close(out.double(), want, torch.float32, "output")
    grad = torch.randn(want.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    got = torch.autograd.grad(out, cast, grad.float())
    for name, a, b in zip(("x", "weight", "scale", "shift"), got, torch.autograd.grad(want, (x, w, scale, shift), grad)):
        assert_close(a.double(), b, torch.float32, f"gradient of {name}")


def test_an_unknown_isa_is_an_error(monkeypatch):
    monkeypatch.setenv("DYCONV_CPU_ENGINE", "direct")
    monkeypatch.setenv("DYCONV_CPU_ISA", "neon")
    x, w = torch.randn(1, 4, 5, 5), torch.randn(1, 3, 4, 3, 3)
    with pytest.raises(RuntimeError, match="DYCONV_CPU_ISA: expected avx512, avx2 or baseline, got 'neon'"):
        dyconv.dynamic_conv2d(x, w, padding=1)


def test_direct_float32_error_on_a_large_dynamic_range(monkeypatch):
    """Inputs and filters spanning 6 and 4 orders of magnitude (per element) on the small
    model's 24->24 layer: the direct taps' float32 error against float64, relative to each
    tensor's largest value, stays within the op's float32 tolerance and within 4x the error
    of the grouped reference run in float32 (what a hand-written version gets). Measured
    (seeds 3-5): output 1.3-2.3x, dx 2.0-3.0x (one sequential sum over 216 products per
    lane), dweight 0.3-0.4x the reference's."""
    monkeypatch.setenv("DYCONV_CPU_ENGINE", "direct")
    errors = large_range_errors(2, 24, 12, 70, 4, {"direct": dyconv.dynamic_conv2d, "grouped": reference.dynamic_conv2d})
    for name, e, e_grouped in zip(("output", "dx", "dweight"), errors["direct"], errors["grouped"]):
        assert e < 1e-5, f"{name}: direct float32 error {e:.2e} of the largest value"
        assert e < 4 * e_grouped, f"{name}: direct {e:.2e} vs the float32 grouped reference {e_grouped:.2e}"
