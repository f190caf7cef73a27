"""The CPU Winograd engine (3x3, stride 1; csrc/cpu/winograd_conv.h), forced with
DYCONV_CPU_ENGINE=winograd: odd sizes, one-row and one-column inputs, dilations wider
than the input, samples split between threads, every norm x activation, values and
all gradients against dyconv.reference in float64; and its float32 error on inputs
with a large dynamic range."""
import pytest
import torch

import dyconv
from dyconv import reference
from conftest import assert_close, large_range_errors, make_problem

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


def case_id(c):
    return f"B{c[0]}-{c[1]}x{c[2]}x{c[3]}-{c[4]}-p{c[5]}-d{c[6]}"


@pytest.fixture
def winograd(monkeypatch):
    """The engine forced, with two threads (so odd batches split samples into parts)."""
    monkeypatch.setenv("DYCONV_CPU_ENGINE", "winograd")
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
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


@pytest.mark.parametrize("engine", ["winograd", "direct"])
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
    with pytest.raises(RuntimeError, match="DYCONV_CPU_ENGINE: expected auto, winograd, direct, shifted, phases or im2col, got 'fft'"):
        dyconv.dynamic_conv2d(x, w, padding=1)


def test_winograd_float32_error_on_a_large_dynamic_range(monkeypatch):
    """Inputs and filters spanning 6 and 4 orders of magnitude (per element), the paper's
    layer-3 shape at reduced size: the Winograd engine's float32 error against float64,
    relative to each tensor's largest value, stays within the op's float32 tolerance and
    within 3x the per-tap GEMMs' error (measured: 1.1-1.6x)."""

    def forced(engine):
        def conv(x, w, **kw):
            monkeypatch.setenv("DYCONV_CPU_ENGINE", engine)
            return dyconv.dynamic_conv2d(x, w, **kw)
        return conv

    errors = large_range_errors(2, 96, 12, 40, 4, {"winograd": forced("winograd"), "shifted": forced("shifted")})
    for name, e, e_gemms in zip(("output", "dx", "dweight"), errors["winograd"], errors["shifted"]):
        assert e < 1e-5, f"{name}: Winograd float32 error {e:.2e} of the largest value"
        assert e < 3 * e_gemms, f"{name}: Winograd {e:.2e} vs per-tap GEMMs {e_gemms:.2e}"
