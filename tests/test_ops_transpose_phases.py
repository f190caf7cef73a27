"""The stride-phase engine (csrc/cpu/phase_conv.h): a strided conv, and the transposed conv that is its
input gradient, computed as one stride-1 correlation per stride phase. Forced with DYCONV_CPU_ENGINE=phases
(and as the automatic choice, whatever it is; the fused norm-act op too), against per-sample F.conv_transpose2d / F.conv2d in float64:
values and first- and second-order gradients over odd geometries (strides 2 and 3, asymmetric strides,
dilation, output_padding, kernels smaller than the stride, whose empty phases are zeros or the bias only,
groups, batches that split samples between threads)."""
import pytest
import torch
import torch.nn.functional as F
from torch.autograd import gradcheck, gradgradcheck

import dyconv
from test_ops_transpose import _ids, problem

F64 = torch.float64
REL = {torch.float32: 3e-5, F64: 1e-10}  # max |error| relative to the largest reference value

# (B, Cin, Cout, groups, H, W, kernel, stride, padding, output_padding, dilation)
CASES = [
    (2, 4, 6, 1, 6, 5, (3, 3), 2, 1, 1, 1),  # StyleGAN2's up=2
    (3, 5, 4, 1, 7, 6, (3, 3), 3, 1, 2, 1),  # stride 3
    (2, 3, 4, 1, 5, 7, (3, 3), (1, 2), (1, 0), (0, 1), 1),  # stride 1 along one axis only
    (2, 4, 3, 1, 6, 6, (3, 3), 2, 2, 1, 2),  # dilation 2
    (2, 4, 4, 1, 5, 5, (3, 5), (2, 3), (0, 2), (1, 2), (2, 1)),  # dilation 2 along one axis, stride 3
    (2, 3, 5, 1, 4, 5, (1, 1), 3, 0, 2, 1),  # 1x1 kernel, stride 3: eight of nine phases empty
    (2, 3, 5, 1, 4, 5, (2, 2), 3, 0, 1, 1),  # 2x2, stride 3: empty phases
    (2, 3, 2, 1, 4, 4, (2, 2), 3, 1, 2, 1),  # 2x2, stride 3, padding
    (2, 6, 4, 2, 5, 6, (4, 4), 2, 1, 0, 1),  # groups 2
    (1, 4, 6, 1, 5, 5, (3, 3), 2, 1, 1, 1),  # B=1: the sample split between threads
    (3, 4, 4, 1, 6, 7, (3, 3), 2, 0, 1, 1),  # B=3 over 2 threads: split samples
    (2, 3, 4, 1, 4, 3, (5, 4), 2, 3, 1, 1),  # padding past the kernel's reach
    (2, 2, 3, 1, 1, 1, (3, 3), 2, 0, 0, 1),  # one input pixel
    (2, 16, 24, 1, 9, 10, (3, 3), 2, 1, 1, 1),  # channels for real GEMMs
]


def per_sample_transposed(x, w, bias, s, p, op, G, d):
    return torch.cat([F.conv_transpose2d(x[b:b + 1], w[b], None if bias is None else bias[b], s, p, op, G, d)
                      for b in range(x.shape[0])])


def assert_rel(got, want, dtype, what):
    err = ((got.double() - want).abs().max() / want.abs().max().clamp_min(1e-30)).item()
    assert err <= REL[dtype], f"{what}: max error {err:.2e} of the largest value, allowed {REL[dtype]:.0e}"


def _check_transposed(case, dtype):
    B, Cin, Cout, G, H, W, k, s, p, op, d = case
    x, w, bias = problem(B, Cin, Cout, G, H, W, k, dtype)
    exact = [t.detach().double().requires_grad_() for t in (x, w, bias)]
    for with_bias in (True, False):
        b, be = (bias, exact[2]) if with_bias else (None, None)
        out = dyconv.dynamic_conv_transpose2d(x, w, b, s, p, op, G, d)
        want = per_sample_transposed(exact[0], exact[1], be, s, p, op, G, d)
        assert out.shape == want.shape
        assert_rel(out, want, dtype, "output")
        gy = torch.randn(want.shape, generator=torch.Generator().manual_seed(1), dtype=F64)
        inputs, ref_inputs = ((x, w, b), exact) if with_bias else ((x, w), exact[:2])
        got = torch.autograd.grad(out, inputs, gy.to(dtype))
        exp = torch.autograd.grad(want, ref_inputs, gy)
        for name, a, e in zip(("x", "weight", "bias"), got, exp):
            assert_rel(a, e, dtype, f"grad {name}")


@pytest.mark.parametrize("engine", ["phases", "auto"])
@pytest.mark.parametrize("dtype", [torch.float32, F64], ids=str)
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_transposed_conv_by_phases_matches_per_sample_f_conv_transpose2d(case, dtype, engine, monkeypatch):
    monkeypatch.setenv("DYCONV_CPU_ENGINE", engine)
    _check_transposed(case, dtype)


# (B, Cin, Cout, groups, H, W, kernel, stride, padding, dilation): the strided conv itself.
CONV_CASES = [
    (2, 4, 6, 1, 9, 8, (3, 3), 2, 1, 1),
    (3, 3, 4, 1, 11, 10, (3, 3), 3, 1, 1),
    (2, 4, 3, 1, 8, 9, (3, 2), (2, 1), (1, 0), (1, 2)),
    (2, 3, 5, 1, 10, 11, (1, 1), 3, 0, 1),
    (2, 3, 5, 1, 10, 11, (2, 2), 3, 0, 1),
    (1, 6, 4, 2, 9, 9, (3, 3), 2, 2, 2),
    (2, 3, 2, 1, 5, 5, (3, 3), 2, 3, 1),  # padding past the kernel's reach
]


@pytest.mark.parametrize("dtype", [torch.float32, F64], ids=str)
@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: "-".join(map(str, c)).replace(" ", ""))
def test_strided_conv_by_phases_matches_per_sample_f_conv2d(case, dtype, monkeypatch):
    monkeypatch.setenv("DYCONV_CPU_ENGINE", "phases")
    B, Cin, Cout, G, H, W, k, s, p, d = case
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(B, Cin, H, W, generator=gen, dtype=dtype, requires_grad=True)
    w = torch.randn(B, Cout, Cin // G, *k, generator=gen, dtype=dtype, requires_grad=True)
    bias = torch.randn(B, Cout, generator=gen, dtype=dtype, requires_grad=True)
    exact = [t.detach().double().requires_grad_() for t in (x, w, bias)]
    out = dyconv.dynamic_conv2d(x, w, bias, stride=s, padding=p, dilation=d, groups=G)
    want = torch.cat([F.conv2d(exact[0][b:b + 1], exact[1][b], exact[2][b], s, p, d, G) for b in range(B)])
    assert out.shape == want.shape
    assert_rel(out, want, dtype, "output")
    gy = torch.randn(want.shape, generator=torch.Generator().manual_seed(1), dtype=F64)
    for name, a, e in zip(("x", "weight", "bias"), torch.autograd.grad(out, (x, w, bias), gy.to(dtype)),
                          torch.autograd.grad(want, exact, gy)):
        assert_rel(a, e, dtype, f"grad {name}")


def test_phases_is_named_and_bitwise_the_forced_engine(monkeypatch):
    """Where the rule or DYCONV_CPU_ENGINE picks it, cpu_engine_for says "phases" and the results are the same."""
    x, w, bias = problem(2, 16, 16, 1, 9, 9, (3, 3), torch.float32)
    monkeypatch.setenv("DYCONV_CPU_ENGINE", "phases")
    assert dyconv.cpu_engine_for((2, 16, 18, 18), (2, 16, 16, 3, 3), stride=2, padding=1) == "phases"
    assert dyconv.cpu_engine_for((2, 16, 18, 18), (2, 16, 16, 3, 3), stride=1, padding=1) != "phases"
    forced = dyconv.dynamic_conv_transpose2d(x, w, bias, 2, 1, 1)
    again = dyconv.dynamic_conv_transpose2d(x, w, bias, 2, 1, 1)
    assert torch.equal(forced, again)


@pytest.mark.parametrize("case", [
    (1, 2, 3, 1, 3, 4, (3, 3), 2, 1, 1, 1),
    (2, 2, 2, 1, 3, 2, (2, 2), 3, 0, 1, 1),  # empty phases
    (1, 2, 3, 1, 3, 3, (3, 2), (1, 2), (1, 0), (0, 1), (2, 1)),
    (1, 4, 2, 2, 3, 3, (3, 3), 2, 1, 0, 2),
], ids=_ids)
def test_phases_first_and_second_order_gradcheck(case, monkeypatch):
    monkeypatch.setenv("DYCONV_CPU_ENGINE", "phases")
    B, Cin, Cout, G, H, W, k, s, p, op, d = case
    x, w, bias = problem(B, Cin, Cout, G, H, W, k, F64, seed=4)
    fn = lambda *a: dyconv.dynamic_conv_transpose2d(*a, s, p, op, G, d)  # noqa: E731
    assert gradcheck(fn, (x, w, bias), eps=1e-6, atol=1e-6)
    assert gradgradcheck(fn, (x, w, bias), eps=1e-6, atol=1e-6)


@pytest.mark.parametrize("norm", ["layer", "instance"])
@pytest.mark.parametrize("B", [2, 3])  # 3 on 2 threads: samples split, statistics summed over the parts
def test_fused_norm_act_on_the_phases_engine_matches_reference(B, norm, monkeypatch):
    """The forward's tiles feed the fused op's statistics (its epilogue)."""
    from dyconv import reference
    monkeypatch.setenv("DYCONV_CPU_ENGINE", "phases")
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(B, 6, 23, 21, generator=gen, dtype=F64, requires_grad=True)
    w = torch.randn(B, 8, 6, 3, 3, generator=gen, dtype=F64, requires_grad=True)
    scale = (1 + 0.5 * torch.randn(B, 8, generator=gen, dtype=F64)).requires_grad_()
    shift = (0.5 * torch.randn(B, 8, generator=gen, dtype=F64)).requires_grad_()
    kw = dict(stride=2, padding=1, norm=norm, activation="relu")
    out = dyconv.dynamic_conv_norm_act(x, w, scale, shift, **kw)
    want = reference.dynamic_conv_norm_act(x, w, scale, shift, **kw)
    assert_rel(out, want, F64, "output")
    gy = torch.randn(want.shape, generator=gen, dtype=F64)
    for name, a, e in zip(("x", "weight", "scale", "shift"), torch.autograd.grad(out, (x, w, scale, shift), gy),
                          torch.autograd.grad(want, (x, w, scale, shift), gy)):
        assert_rel(a, e, F64, f"grad {name}")


def test_the_rule_takes_phases_for_strided_layers_with_channels_and_room(monkeypatch):
    """csrc/cpu/engine_rule.h: strided layers of 4 to 255 x 255 channels on maps of more than 64 output pixels;
    im2col for 1-3 input channels, small maps and 512->512 (its one long GEMM wins there)."""
    monkeypatch.delenv("DYCONV_CPU_ENGINE", raising=False)
    monkeypatch.delenv("DYCONV_CPU_AUTOTUNE", raising=False)
    assert dyconv.cpu_engine_for((4, 128, 256, 256), (4, 128, 128, 3, 3), stride=2, padding=1) == "phases"
    assert dyconv.cpu_engine_for((32, 64, 56, 56), (32, 128, 64, 3, 3), stride=2, padding=1) == "phases"
    assert dyconv.cpu_engine_for((16, 3, 64, 64), (16, 32, 3, 3, 3), stride=2, padding=1) == "im2col"
    assert dyconv.cpu_engine_for((32, 256, 14, 14), (32, 256, 256, 3, 3), stride=2, padding=1) == "im2col"
    assert dyconv.cpu_engine_for((4, 512, 72, 72), (4, 512, 512, 3, 3), stride=2, padding=1) == "im2col"
