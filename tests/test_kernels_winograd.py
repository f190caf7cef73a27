"""The CPU Winograd engine (3x3, stride 1; csrc/cpu/winograd_conv.h) with both tile sizes,
forced with DYCONV_CPU_ENGINE=winograd (F(2x2, 3x3)) or winograd4 (F(4x4, 3x3)): odd sizes,
one-row and one-column inputs, dilations wider than the input, partial tiles at the
last rows and columns, samples split between threads, every norm x activation, values
and all gradients against dyconv.reference in float64; and the float32 error on inputs
with a large dynamic range, bounded by each tile's conditioning."""
import pytest
import torch

import dyconv
from dyconv import reference
from conftest import assert_close, large_range_errors, make_problem
from test_ops_double_backward import _compare

NORMS = ("layer", "instance", "none")
ACTIVATIONS = ("relu", "sigmoid", "none")

# (B, Cin, H, W, Cout, padding, dilation)
CASES = [
    (2, 5, 7, 9, 4, "same", 1),  # odd H and W: the last tile row and column half outside
    (3, 6, 12, 17, 4, "same", 4),  # odd batch: samples split between threads
    (1, 4, 1, 1, 3, "same", 2),  # a single pixel
    (2, 3, 1, 9, 2, "same", 1),  # H = 1
    (2, 3, 9, 1, 2, "same", 3),  # W = 1
    (2, 8, 5, 6, 3, "same", 7),  # dilation wider than the input
    (1, 4, 6, 21, 3, "same", (2, 9)),  # different dilations, one wider than the input (deinterleave step 18)
    (2, 4, 8, 9, 3, "valid", 2),
    (1, 4, 8, 9, 3, (1, 2), (2, 1)),  # padding between "valid" and "same"
    (2, 5, 19, 40, 6, "same", 8),  # deinterleave step 16, several bands
    # Rows wide enough for the vector bodies of the (de)interleave loops (>= 16 groups), steps 2 to 16:
    (1, 3, 4, 139, 2, "same", 1),
    (1, 3, 5, 261, 2, "same", 2),
    (1, 3, 9, 301, 2, "same", 4),
    (1, 3, 17, 530, 2, "same", (8, 8)),
]
ENGINES = ("winograd", "winograd4")


def case_id(c):
    return f"B{c[0]}-{c[1]}x{c[2]}x{c[3]}-{c[4]}-p{c[5]}-d{c[6]}"


@pytest.fixture(params=ENGINES)
def winograd(request, monkeypatch):
    """Each tile size forced, with two threads (so odd batches split samples into parts)."""
    monkeypatch.setenv("DYCONV_CPU_ENGINE", request.param)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield request.param
    torch.set_num_threads(before)


def check_against_float64(ours, ref, inputs, kw, dtype, seed=1):
    """Output and every input's gradient of `ours` on inputs cast to dtype, against `ref` in float64."""
    cast = [t.detach().to(dtype).requires_grad_() for t in inputs]
    out, want = ours(*cast, **kw), ref(*inputs, **kw)
    assert_close(out.double(), want, dtype, "output")
    grad = torch.randn(want.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    got = torch.autograd.grad(out, cast, grad.to(dtype))
    exp = torch.autograd.grad(want, inputs, grad)
    for name, a, b in zip(("x", "weight", "scale", "shift"), got, exp):
        assert_close(a.double(), b, dtype, f"gradient of {name}")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_winograd_engine_both_ops(case, dtype, winograd):
    B, Cin, H, W, Cout, p, d = case
    x, w, scale, shift = make_problem(B, Cin, H, W, Cout, (3, 3), torch.float64)
    check_against_float64(dyconv.dynamic_conv2d, reference.dynamic_conv2d, (x, w), dict(padding=p, dilation=d),
                          dtype)
    check_against_float64(dyconv.dynamic_conv_norm_act, reference.dynamic_conv_norm_act, (x, w, scale, shift),
                          dict(padding=p, dilation=d, norm="layer", activation="sigmoid"), dtype)


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_winograd_engine_every_norm_and_activation(norm, activation, winograd):
    x, w, scale, shift = make_problem(3, 6, 11, 13, 5, (3, 3), torch.float64)
    check_against_float64(dyconv.dynamic_conv_norm_act, reference.dynamic_conv_norm_act, (x, w, scale, shift),
                          dict(padding="same", dilation=2, norm=norm, activation=activation), torch.float32)


# 4x4 tiles on one thread (whole samples in order), rows and columns per phase that leave
# 1, 2 or 3 of a last tile's 4 outputs inside the map: (B, Cin, H, W, Cout, padding, dilation).
ONE_THREAD_CASES = [
    (1, 5, 9, 10, 4, 1, 1),  # 9 rows: 2 full bands and one with 1 row; 10 columns: 2 of the last tile's 4
    (2, 6, 40, 31, 5, 4, 4),  # the paper's 40 rows at dilation 4: 10 per phase, the last band half outside
    (2, 4, 15, 23, 3, 0, 2),  # no padding: 11 x 19 outputs
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("case", ONE_THREAD_CASES, ids=case_id)
def test_winograd4_on_one_thread(case, dtype, monkeypatch):
    B, Cin, H, W, Cout, p, d = case
    monkeypatch.setenv("DYCONV_CPU_ENGINE", "winograd4")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        x, w, _, _ = make_problem(B, Cin, H, W, Cout, (3, 3), torch.float64)
        check_against_float64(dyconv.dynamic_conv2d, reference.dynamic_conv2d, (x, w), dict(padding=p, dilation=d),
                              dtype)
    finally:
        torch.set_num_threads(before)


def test_winograd_second_order(winograd):
    """Double backward runs the engine's forward and backward on the gradients (float64: exact algebra)."""
    x, w, _, _, bias = make_problem(2, 4, 9, 11, 3, (3, 3), torch.float64, bias=True)
    kw = dict(padding=2, dilation=2)
    _compare(lambda *a: dyconv.dynamic_conv2d(*a, **kw) ** 2, lambda *a: reference.dynamic_conv2d(*a, **kw) ** 2,
             (x, w), f"{winograd}, squared")


@pytest.mark.parametrize("engine", ["winograd", "winograd4", "direct"])
def test_the_variable_switches_the_engine(engine, monkeypatch):
    """The variable reaches the kernel: forced Winograd or direct taps and forced per-tap GEMMs
    round differently in float32, and both agree with the reference."""
    x, w = (t.detach().float() for t in make_problem(2, 8, 10, 40, 6, (3, 3), torch.float32)[:2])
    want = reference.dynamic_conv2d(x.double(), w.double(), padding="same", dilation=2)
    outs = {}
    for name in (engine, "shifted"):
        monkeypatch.setenv("DYCONV_CPU_ENGINE", name)
        outs[name] = dyconv.dynamic_conv2d(x, w, padding="same", dilation=2)
        assert_close(outs[name].double(), want, torch.float32, name)
    assert not torch.equal(outs[engine], outs["shifted"])


def test_an_unknown_engine_is_an_error(monkeypatch):
    monkeypatch.setenv("DYCONV_CPU_ENGINE", "fft")
    x, w = torch.randn(1, 4, 5, 5), torch.randn(1, 3, 4, 3, 3)
    with pytest.raises(RuntimeError, match="DYCONV_CPU_ENGINE: expected auto, winograd, winograd4, direct, shifted, "
                                           "phases or im2col, got 'fft'"):
        dyconv.dynamic_conv2d(x, w, padding=1)


# A^T, G and B^T of each tile (csrc/cpu/winograd_transforms.h, winograd4_transforms.h).
TRANSFORMS = {
    "winograd": ([[1, 1, 1, 0], [0, 1, -1, -1]],
                 [[1, 0, 0], [1 / 2, 1 / 2, 1 / 2], [1 / 2, -1 / 2, 1 / 2], [0, 0, 1]],
                 [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]),
    "winograd4": ([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -1 / 2, 0], [0, 1, 1, 4, 1 / 4, 0], [0, 1, -1, 8, -1 / 8, 1]],
                  [[1, 0, 0], [-1 / 3, -1 / 3, -1 / 3], [1 / 3, -1 / 3, 1 / 3], [1 / 15, 2 / 15, 4 / 15],
                   [-16 / 15, 8 / 15, -4 / 15], [0, 0, 1]],
                  [[1, 3 / 2, -2, -3 / 2, 1, 0], [0, -1, -5 / 2, -1 / 2, 1, 0], [0, 1, 1 / 2, -5 / 2, 1, 0],
                   [0, -1 / 2, -1, 1 / 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 1, 3 / 2, -2, -3 / 2, 1]]),
}
KAPPA_DIRECT = 3.0  # direct 3x3 convolution: 9 products of weight 1 per output


def conditioning(at, g, bt):
    """The tile's rounding-error gain: max over its outputs i of sum over the Winograd-domain
    elements e of (A^T[i, e] |G[e]| |B^T[e]|)^2, squared for the 2-D tile (rows: 2-norms).
    To first order, element e carries a rounding error of size eps |G[e]| |g| |B^T[e]| |d| (its
    filter and input transforms round), independent of the other elements', and output i adds
    them with weights A^T[i, e]: the error's root-mean-square is then sqrt of the sum, in 1-D,
    and its 2-D square for the tile. Direct convolution gives 3 (KAPPA_DIRECT); F(2x2, 3x3) 5;
    F(4x4, 3x3) with the engine's points 31.3. In the numpy simulation of eight point sets
    (benchmarks/winograd_tile_error.py, 96->96) the max error over the outputs was 6.8e-8 to
    1.1e-7 times this kappa for every tile and for direct convolution, so the ratio of two
    engines' errors is the ratio of their kappas within a factor of about 1.6."""
    at, g, bt = (torch.tensor(m, dtype=torch.float64) for m in (at, g, bt))
    weight = g.norm(dim=1) * bt.norm(dim=1)
    return ((at * weight) ** 2).sum(dim=1).sqrt().max().item() ** 2


def test_the_tiles_conditioning():
    assert conditioning(*TRANSFORMS["winograd"]) == pytest.approx(5.0)
    assert conditioning(*TRANSFORMS["winograd4"]) == pytest.approx(31.3, abs=0.05)


@pytest.mark.parametrize("engine", ENGINES)
def test_winograd_float32_error_on_a_large_dynamic_range(engine, monkeypatch):
    """Inputs and filters spanning 6 and 4 orders of magnitude (per element), the paper's
    layer-3 shape at reduced size: each tile size's float32 error against float64, relative
    to each tensor's largest value, stays within the accuracy budget (1e-5 of the largest
    value, docs/cpu_kernels.md) and within 1.8 x kappa / KAPPA_DIRECT times the per-tap GEMMs'
    error: the ratio the conditioning predicts (5/3 for 2x2 tiles, 10.4 for 4x4), with a
    factor 1.8 for the spread of the model's constant (1.6) and of a maximum over the outputs.
    Measured: 2x2 tiles 1.1-1.6x the per-tap GEMMs; 4x4 tiles 7-10x (output), 10-12x (dx),
    3-3.5x (dweight: its long sum over tiles rounds in the GEMM as the others do)."""

    def forced(name):
        def conv(x, w, **kw):
            monkeypatch.setenv("DYCONV_CPU_ENGINE", name)
            return dyconv.dynamic_conv2d(x, w, **kw)
        return conv

    bound = 1.8 * conditioning(*TRANSFORMS[engine]) / KAPPA_DIRECT
    errors = large_range_errors(2, 96, 12, 40, 4, {engine: forced(engine), "shifted": forced("shifted")})
    for name, e, e_gemms in zip(("output", "dx", "dweight"), errors[engine], errors["shifted"]):
        assert e < 1e-5, f"{name}: {engine} float32 error {e:.2e} of the largest value"
        assert e < bound * e_gemms, f"{name}: {engine} {e:.2e} vs per-tap GEMMs {e_gemms:.2e} (bound {bound:.1f}x)"
