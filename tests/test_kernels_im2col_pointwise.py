"""The im2col engine on 1x1 layers at stride 1 without padding (csrc/cpu/conv_engine.h, im2col_is_input): its
GEMMs read x and write the input gradient in place. Values and all gradients against the float64 reference,
with whole samples per thread and with one sample's pixel tiles split between two threads; a padded or
strided 1x1 layer still goes through the im2col copy. The engine writes both gradients whole (no
zero-filled outputs), also where a sample is split between threads."""
import pytest
import torch

import dyconv
from dyconv import reference
from conftest import assert_close

# (B, Cin, H, W, Cout, stride, padding, groups)
CASES = [
    (3, 24, 8, 8, 40, 1, 0, 1),  # whole samples
    (1, 16, 13, 21, 8, 1, 0, 1),  # one sample: its 273 pixels in tiles on two threads
    (2, 12, 5, 7, 18, 1, 0, 3),  # groups: each (sample, group) a sample of the engine
    (2, 8, 9, 10, 6, 2, 0, 1),  # strided: the copy
    (1, 8, 17, 19, 6, 2, 0, 1),  # strided, one sample split between threads: col2im into parts
    (2, 8, 6, 5, 6, 1, 1, 1),  # padded: the copy
]


@pytest.fixture
def im2col(monkeypatch, two_threads):
    monkeypatch.setenv("DYCONV_CPU_ENGINE", "im2col")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("case", CASES, ids=lambda c: "B{}-{}to{}-{}x{}-s{}-p{}-g{}".format(*c[:2], c[4], *c[2:4], *c[5:]))
def test_pointwise_im2col_matches_reference(case, dtype, im2col):
    B, Cin, H, W, Cout, s, p, G = case
    g = torch.Generator().manual_seed(0)
    x = torch.randn(B, Cin, H, W, generator=g, dtype=dtype, requires_grad=True)
    w = torch.randn(B, Cout, Cin // G, 1, 1, generator=g, dtype=dtype, requires_grad=True)
    kw = dict(stride=s, padding=p, groups=G)
    assert dyconv.cpu_engine_for(x, w, **kw) == "im2col"
    out, want = dyconv.dynamic_conv2d(x, w, **kw), reference.dynamic_conv2d(x, w, **kw)
    assert_close(out, want, dtype, "output")
    grad = torch.randn(out.shape, generator=g, dtype=dtype)
    for name, got, exp in zip(("x", "weight"), torch.autograd.grad(out, (x, w), grad),
                              torch.autograd.grad(want, (x, w), grad)):
        assert_close(got, exp, dtype, f"grad {name}")
    # The transposed conv runs the input gradient alone, with its input as the output gradient.
    y, wd = out.detach(), w.detach()
    assert_close(dyconv.dynamic_conv_transpose2d(y, wd, stride=s, padding=p, groups=G),
                 reference.dynamic_conv_transpose2d(y, wd, stride=s, padding=p, groups=G), dtype, "transposed")
