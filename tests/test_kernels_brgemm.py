"""Float GEMMs with at most 16 rows go to oneDNN's brgemm instead of MKL (csrc/cpu/blas.h, use_brgemm): here
the im2col engine's GEMMs of a 1x1 layer on a 4x4 map (16 pixels per sample) and of a 3x3 layer on a 4x4 map,
and the shifted engine's on a 3x3 layer of 2 rows (nt 14). With brgemm on and off (DYCONV_BRGEMM=0), on one
and two threads, the output and both gradients match the float64 reference, and each setting gives the same
bits on every call."""
import pytest
import torch

import dyconv
from dyconv import reference
from conftest import assert_close

# (engine, B, Cin, H, W, Cout, k, padding)
CASES = [
    ("im2col", 3, 24, 4, 4, 40, 1, 0),  # in place: GEMM m = 16
    ("im2col", 2, 8, 4, 4, 12, 3, 1),  # the im2col copy: m = 16, k = 72
    ("shifted", 2, 16, 2, 5, 24, 3, 1),  # one GEMM per tap: m = 12 rows of the padded grid
]


def run(x, w, p, grad):
    out = dyconv.dynamic_conv2d(x, w, padding=p)
    return (out, *torch.autograd.grad(out, (x, w), grad))


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("brgemm", ["1", "0"], ids=["brgemm", "mkl"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "{}-B{}-{}to{}-{}x{}-k{}".format(c[0], *c[1:3], c[5], *c[3:5], c[6]))
def test_small_gemms_match_reference_and_repeat(case, brgemm, threads, monkeypatch):
    engine, B, Cin, H, W, Cout, k, p = case
    monkeypatch.setenv("DYCONV_CPU_ENGINE", engine)
    monkeypatch.setenv("DYCONV_BRGEMM", brgemm)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        g = torch.Generator().manual_seed(0)
        x = torch.randn(B, Cin, H, W, generator=g, requires_grad=True)
        w = torch.randn(B, Cout, Cin, k, k, generator=g, requires_grad=True)
        grad = torch.randn(B, Cout, H, W, generator=g)
        first, again = run(x, w, p, grad), run(x, w, p, grad)
        xd, wd = x.detach().double().requires_grad_(), w.detach().double().requires_grad_()
        want = reference.dynamic_conv2d(xd, wd, padding=p)
        want = (want, *torch.autograd.grad(want, (xd, wd), grad.double()))
        for what, a, b, ref in zip(("output", "input gradient", "weight gradient"), first, again, want):
            assert torch.equal(a, b), f"{what}: not the same bits on a second call"
            assert_close(a.double(), ref, torch.float32, what)
    finally:
        torch.set_num_threads(before)
