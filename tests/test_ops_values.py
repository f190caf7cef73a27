"""Forward values and all gradients of both ops against dyconv.reference."""
import pytest
import torch

import dyconv
from dyconv import reference
from conftest import assert_close, make_problem

# (B, Cin, H, W, Cout, kernel, stride, padding, dilation)
CONV_CASES = [
    (1, 1, 9, 11, 3, (3, 3), 1, "same", 1),
    (2, 3, 7, 9, 4, (3, 3), 1, "same", 2),
    (3, 2, 13, 10, 5, (5, 3), 1, 1, 1),
    (4, 5, 11, 13, 6, (1, 1), 1, 0, 1),
    (2, 3, 9, 7, 2, (3, 3), 2, 1, 1),
    (3, 4, 15, 17, 3, (5, 3), 2, (2, 1), (1, 3)),
    (2, 2, 5, 6, 3, (3, 3), 1, "same", 8),  # dilation wider than the input
    (1, 3, 4, 5, 2, (3, 3), 1, (8, 8), 8),
    (2, 3, 12, 9, 4, (3, 3), 1, "valid", 3),
    (2, 2, 8, 10, 3, (2, 4), 1, "same", 1),  # even kernel: asymmetric "same" like F.conv2d
    (2, 16, 19, 37, 12, (3, 3), 1, "same", 4),  # several column tiles per sample
]
NORMS = ["layer", "instance", "none"]
ACTIVATIONS = ["relu", "sigmoid", "none"]
DTYPES = [torch.float32, torch.float64]


def _ids(case):
    B, Cin, H, W, Cout, k, s, p, d = case
    return f"B{B}-{Cin}x{H}x{W}-{Cout}-k{k[0]}{k[1]}-s{s}-p{p}-d{d}".replace(" ", "")


def _grads(out, inputs, seed=1):
    g = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed), dtype=out.dtype)
    return torch.autograd.grad(out, inputs, g)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("case", CONV_CASES, ids=_ids)
def test_dynamic_conv2d_matches_reference(case, dtype):
    B, Cin, H, W, Cout, k, s, p, d = case
    x, w, _, _, bias = make_problem(B, Cin, H, W, Cout, k, dtype, bias=True)
    for b in (bias, None):
        kw = dict(stride=s, padding=p, dilation=d)
        out = dyconv.dynamic_conv2d(x, w, b, **kw)
        ref = reference.dynamic_conv2d(x, w, b, **kw)
        assert out.shape == ref.shape
        assert_close(out, ref, dtype, "output")
        inputs = (x, w) if b is None else (x, w, b)
        for name, got, want in zip(("x", "weight", "bias"), _grads(out, inputs), _grads(ref, inputs)):
            assert_close(got, want, dtype, f"grad {name}")


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("case", CONV_CASES, ids=_ids)
def test_dynamic_conv_norm_act_matches_reference(case, norm, activation, dtype):
    B, Cin, H, W, Cout, k, s, p, d = case
    x, w, scale, shift = make_problem(B, Cin, H, W, Cout, k, dtype)
    kw = dict(stride=s, padding=p, dilation=d, norm=norm, activation=activation)
    out = dyconv.dynamic_conv_norm_act(x, w, scale, shift, **kw)
    ref = reference.dynamic_conv_norm_act(x, w, scale, shift, **kw)
    assert_close(out, ref, dtype, "output")
    inputs = (x, w, scale, shift)
    for name, got, want in zip(("x", "weight", "scale", "shift"), _grads(out, inputs), _grads(ref, inputs)):
        assert_close(got, want, dtype, f"grad {name}")


def test_eps_is_used():
    # A constant conv output has zero variance: the result is shift + 0 * scale only through eps.
    x = torch.ones(2, 1, 5, 5, dtype=torch.float64)
    w = torch.ones(2, 3, 1, 1, 1, dtype=torch.float64)
    w[:, 1] = 2.0
    scale, shift = torch.ones(2, 3, dtype=torch.float64), torch.zeros(2, 3, dtype=torch.float64)
    for eps in (1e-5, 0.5):
        kw = dict(padding=0, norm="layer", activation="none", eps=eps)
        assert_close(
            dyconv.dynamic_conv_norm_act(x, w, scale, shift, **kw),
            reference.dynamic_conv_norm_act(x, w, scale, shift, **kw),
            torch.float64,
            f"eps={eps}",
        )


def test_layer_norm_output_statistics():
    """Independent of the reference: with scale 1, shift 0 and no activation the
    output of each sample has zero mean and unit variance (layer) or per channel (instance)."""
    x, w, scale, shift = make_problem(3, 4, 9, 10, 5, (3, 3), torch.float64)
    ones, zeros = torch.ones_like(scale), torch.zeros_like(shift)
    out = dyconv.dynamic_conv_norm_act(x, w, ones, zeros, norm="layer", activation="none", eps=1e-12)
    flat = out.flatten(1)
    assert_close(flat.mean(1), torch.zeros(3, dtype=torch.float64), torch.float64, "mean")
    assert_close(flat.var(1, unbiased=False), torch.ones(3, dtype=torch.float64), torch.float64, "var")
    out = dyconv.dynamic_conv_norm_act(x, w, ones, zeros, norm="instance", activation="none", eps=1e-12)
    flat = out.flatten(2)
    assert_close(flat.mean(2), torch.zeros(3, 5, dtype=torch.float64), torch.float64, "mean")
    assert_close(flat.var(2, unbiased=False), torch.ones(3, 5, dtype=torch.float64), torch.float64, "var")


def test_each_sample_uses_its_own_filters():
    """Independent of the reference: sample b equals a plain F.conv2d with weight[b]."""
    x, w, _, _, bias = make_problem(4, 3, 11, 9, 5, (3, 3), torch.float64, bias=True)
    out = dyconv.dynamic_conv2d(x, w, bias, padding="same", dilation=2)
    for b in range(4):
        want = torch.nn.functional.conv2d(x[b : b + 1], w[b], bias[b], padding="same", dilation=2)
        assert_close(out[b : b + 1], want, torch.float64, f"sample {b}")
