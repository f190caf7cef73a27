"""The CPU shifted-GEMM engine (stride 1, Cin >= 4): odd batches split across threads,
padding anywhere between "valid" and "same", dilations and non-square kernels."""
import pytest
import torch

import dyconv
from dyconv import reference
from conftest import assert_close, make_problem

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
]


@pytest.fixture
def two_threads(monkeypatch):
    """The split of samples between threads only happens with more than one thread. The
    engine is forced: the automatic choice takes the Winograd engine for the wider 3x3 cases."""
    monkeypatch.setenv("DYCONV_CPU_ENGINE", "shifted")
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"B{c[0]}-{c[1]}x{c[2]}x{c[3]}-{c[4]}-k{c[5]}-p{c[6]}-d{c[7]}")
def test_shifted_engine_both_ops(case, dtype, two_threads):
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
