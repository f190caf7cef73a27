"""bfloat16 on AMX tiles (csrc/cpu/amx_bf16_conv.h): dynamic_conv2d forward, input and weight gradients,
dynamic_conv_transpose2d and dynamic_conv_norm_act, on CPUs with AMX-BF16 (skipped elsewhere).

bfloat16 products are exact in float32 and the sums are float32, so each output is the exact (float64) result on
the same bfloat16 values up to one rounding to bfloat16 and the float32 summation error: at most
2^-8 |exact| + 2 n 2^-24 sum|terms| for a sum of n terms. Tested on geometries around every edge the packing has
(odd channels, groups, rectangular and 1x1 kernels, dilation, padding 0 and at the kernel's reach, odd widths,
fewer samples than threads, channels_last, non-dense inputs), NaN / inf placement against the float64 reference,
and where the path does not apply.
"""
import pytest
import torch

import dyconv
from dyconv import reference
from conftest import assert_close

ops = torch.ops.dyconv
BF16, F64 = torch.bfloat16, torch.float64


def _amx_here():
    return dyconv.cpu_engine_for(torch.empty(2, 16, 12, 12, dtype=BF16), (2, 16, 16, 3, 3), padding=1) == "amx-bf16"


pytestmark = pytest.mark.skipif(not _amx_here(), reason="this CPU has no AMX-BF16 (or torch's brgemm lacks it)")

# (B, Cin, Cout, H, W, (kH, kW), (pH, pW), (dH, dW), groups, bias, channels_last)
GEOMETRIES = [
    (3, 32, 48, 10, 13, (3, 3), (1, 1), (1, 1), 1, True, False),
    (2, 17, 33, 11, 13, (3, 3), (2, 2), (2, 2), 1, True, True),   # odd channel counts, padding at the reach
    (4, 64, 64, 12, 11, (3, 5), (1, 2), (1, 1), 2, False, False),  # groups, rectangular kernel
    (2, 32, 32, 12, 12, (1, 1), (0, 0), (1, 1), 1, True, True),  # 1x1
    (3, 40, 24, 12, 12, (5, 5), (4, 4), (2, 2), 1, True, False),  # dilated 5x5
    (1, 16, 16, 14, 16, (3, 3), (0, 0), (1, 1), 1, False, False),  # one sample, padding 0
    (3, 96, 96, 6, 31, (3, 3), (4, 4), (4, 4), 1, True, False),  # paper layer 3's geometry, smaller map
    (5, 48, 16, 3, 2000, (1, 3), (0, 1), (1, 1), 1, True, False),  # wider than one block of grid positions
]
IDS = [f"B{g[0]}-{g[1]}to{g[2]}-{g[3]}x{g[4]}-k{g[5][0]}x{g[5][1]}-g{g[8]}{'-cl' if g[10] else ''}" for g in GEOMETRIES]


def _tensors(geometry, seed=0):
    B, Cin, Cout, H, W, (kH, kW), (pH, pW), (dH, dW), g, bias, cl = geometry
    gen = torch.Generator().manual_seed(seed)
    r = lambda *shape: torch.randn(shape, generator=gen).to(BF16)  # noqa: E731
    x = r(B, Cin, H, W)
    if cl:
        x = x.contiguous(memory_format=torch.channels_last)
    w = (torch.randn(B, Cout, Cin // g, kH, kW, generator=gen) / (Cin // g * kH * kW) ** 0.5).to(BF16)
    Hout, Wout = H + 2 * pH - dH * (kH - 1), W + 2 * pW - dW * (kW - 1)
    dy = r(B, Cout, Hout, Wout)
    if cl:
        dy = dy.contiguous(memory_format=torch.channels_last)
    return x, w, (r(B, Cout) if bias else None), dy, dict(padding=(pH, pW), dilation=(dH, dW), groups=g)


def _exact(x, w, b, dy, kw, absolute=False):
    """The float64 forward, input and weight gradients and bias gradient on these values (of |values|: the sums
    of |terms|)."""
    f = (lambda t: t.double().abs()) if absolute else (lambda t: t.double())  # noqa: E731
    xs, ws = f(x).requires_grad_(), f(w).requires_grad_()
    bs = f(b).requires_grad_() if b is not None else None
    y = reference.dynamic_conv2d(xs, ws, bs, **kw)
    grads = torch.autograd.grad(y, [xs, ws] + ([bs] if b is not None else []), f(dy))
    return [y.detach(), *grads]


def _assert_within_bound(what, got, exact, absolute, n):
    assert got.dtype == BF16, f"{what}: dtype {got.dtype}"
    bound = 2.0 ** -8 * exact.abs() + 2 * n * 2.0 ** -24 * absolute
    err = (got.double() - exact).abs()
    worst = (err - bound).max().item()
    assert worst <= 0, f"{what}: error {err.max().item():.3g} exceeds the bound by {worst:.3g}"


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=IDS)
def test_values_and_gradients_within_one_rounding(geometry, two_threads):
    x, w, b, dy, kw = _tensors(geometry)
    B, Cin, Cout, H, W, (kH, kW), _, _, g, _, cl = geometry
    assert dyconv.cpu_engine_for(x, w, **kw) == "amx-bf16"
    y = dyconv.dynamic_conv2d(x, w, b, **kw)
    dx, dw, db = ops.dynamic_conv2d_backward(dy, x, w, [1, 1], list(kw["padding"]), list(kw["dilation"]),
                                             [True, True, b is not None], g)
    exact, absolute = _exact(x, w, b, dy, kw), _exact(x, w, b, dy, kw, absolute=True)
    fmt = torch.channels_last if cl else torch.contiguous_format
    assert y.is_contiguous(memory_format=fmt) and dx.is_contiguous(memory_format=fmt), "memory format not kept"
    _assert_within_bound("output", y, exact[0], absolute[0], Cin // g * kH * kW + 1)
    _assert_within_bound("input gradient", dx, exact[1], absolute[1], Cout // g * kH * kW)
    _assert_within_bound("weight gradient", dw, exact[2], absolute[2], y.shape[2] * y.shape[3])
    if b is not None:
        _assert_within_bound("bias gradient", db, exact[3], absolute[3], y.shape[2] * y.shape[3])


@pytest.mark.parametrize("geometry", GEOMETRIES[:4], ids=IDS[:4])
def test_transposed_forward_within_one_rounding(geometry, two_threads):
    """dynamic_conv_transpose2d is the conv's input gradient plus a bias (B, Cout of the transposed op)."""
    x, w, _, dy, kw = _tensors(geometry)
    B, Cin, Cout, H, W, (kH, kW), _, _, g, _, cl = geometry
    bias = torch.randn(B, Cin).to(BF16)
    got = dyconv.dynamic_conv_transpose2d(dy, w, bias, padding=kw["padding"], dilation=kw["dilation"], groups=g)
    want = reference.dynamic_conv_transpose2d(dy.double(), w.double(), bias.double(), padding=kw["padding"],
                                              dilation=kw["dilation"], groups=g)
    absolute = reference.dynamic_conv_transpose2d(dy.double().abs(), w.double().abs(), bias.double().abs(),
                                                  padding=kw["padding"], dilation=kw["dilation"], groups=g)
    assert got.is_contiguous(memory_format=torch.channels_last if cl else torch.contiguous_format)
    _assert_within_bound("transposed output", got, want, absolute, Cout // g * kH * kW + 1)


def test_non_dense_inputs(two_threads):
    """x and weight as strided views (every other channel, a transposed weight) read in place."""
    geometry = GEOMETRIES[0]
    x, w, b, dy, kw = _tensors(geometry)
    wide = torch.randn(x.shape[0], 2 * x.shape[1], *x.shape[2:]).to(BF16)
    xv = wide[:, ::2]
    wv = w.transpose(3, 4).contiguous().transpose(3, 4)
    got = dyconv.dynamic_conv2d(xv, wv, b, **kw)
    assert torch.equal(got, dyconv.dynamic_conv2d(xv.contiguous(), w, b, **kw))


def test_nan_and_inf_reach_the_outputs_they_touch(two_threads):
    """A NaN or inf input gives NaN / inf exactly where the float64 reference has them (forward and input
    gradient; the float32 Winograd engine turns some infs into NaN in its transforms, this path does not)."""
    x, w, b, dy, kw = _tensors(GEOMETRIES[0])
    x[0, 3, 4, 5], x[1, 0, 0, 0], x[2, 7, 8, 12] = float("nan"), float("inf"), float("-inf")
    dy[1, 2, 0, 12], dy[0, 5, 3, 3] = float("nan"), float("inf")
    got = [dyconv.dynamic_conv2d(x, w, b, **kw),
           ops.dynamic_conv2d_backward(dy, x, w, [1, 1], [1, 1], [1, 1], [True, False, False], 1)[0]]
    want = _exact(x, w, b, dy, kw)[:2]
    for what, a, e in zip(("output", "input gradient"), got, want):
        assert a.isnan().any() and a.isinf().any(), what
        assert torch.equal(a.isnan(), e.isnan()), what
        assert torch.equal(a.isinf(), e.isinf()) and torch.equal(a[a.isinf()].double(), e[e.isinf()]), what


def test_onednn_switched_off_takes_the_float32_engines(monkeypatch):
    """torch's brgemm refuses VNNI operands while oneDNN is off: the calls run the converted path instead."""
    x, w, b, dy, kw = _tensors(GEOMETRIES[0])
    want = dyconv.dynamic_conv2d(x, w, b, **kw)
    monkeypatch.setattr(torch.backends.mkldnn, "enabled", False)  # restored after the test
    assert dyconv.cpu_engine_for(x, w, **kw) != "amx-bf16"
    assert_close(dyconv.dynamic_conv2d(x, w, b, **kw).double(), want.double(), BF16, "oneDNN off")


@pytest.mark.parametrize("case", ["stride 2", "8 channels", "small map", "depthwise", "float16", "float32",
                                  "switched off"])
def test_where_it_does_not_apply(case, monkeypatch):
    """Each case changes one thing of a geometry that takes the path (12x12 outputs, 16 -> 16 channels)."""
    x, w, kw = torch.empty(2, 16, 12, 12, dtype=BF16), (2, 16, 16, 3, 3), dict(padding=1)
    assert dyconv.cpu_engine_for(x, w, **kw) == "amx-bf16"
    if case == "stride 2":
        kw["stride"] = 2
    elif case == "8 channels":
        x, w = torch.empty(2, 8, 12, 12, dtype=BF16), (2, 32, 8, 3, 3)
    elif case == "small map":  # 11 x 11 = 121 output pixels, under 128
        x = torch.empty(2, 16, 11, 11, dtype=BF16)
    elif case == "depthwise":
        w, kw["groups"] = (2, 16, 1, 3, 3), 16
    elif case == "float16":
        x = x.half()
    elif case == "float32":
        x = x.float()
    else:
        monkeypatch.setenv("DYCONV_AMX", "0")
    assert dyconv.cpu_engine_for(x, w, **kw) != "amx-bf16"


def test_fewer_samples_than_threads_and_thread_counts_agree(two_threads):
    """The path is per sample: one sample, and a batch on one or two threads, give the same bits."""
    x, w, b, dy, kw = _tensors(GEOMETRIES[1])
    two = dyconv.dynamic_conv2d(x, w, b, **kw)
    assert torch.equal(dyconv.dynamic_conv2d(x[:1], w[:1], b[:1], **kw), two[:1])
    torch.set_num_threads(1)
    assert torch.equal(dyconv.dynamic_conv2d(x, w, b, **kw), two)


FUSED = [("layer", "relu"), ("instance", "sigmoid"), ("none", "none")]


@pytest.mark.parametrize("norm,act", FUSED, ids=[f"{n}-{a}" for n, a in FUSED])
@pytest.mark.parametrize("geometry", [GEOMETRIES[i] for i in (0, 2, 6)], ids=[IDS[i] for i in (0, 2, 6)])
def test_fused_op_against_the_float64_reference(geometry, norm, act, monkeypatch, two_threads):
    """dynamic_conv_norm_act on AMX (csrc/cpu/amx_bf16_norm_act.h): conv_out within one rounding of the exact
    conv; mean, rstd and out, and every gradient, within bfloat16's tolerance of the float64 reference (relu's
    gradients: of the float32 engines' backward on the same saved tensors); out and the input gradient in x's
    memory format."""
    x, w, _, _, kw = _tensors(geometry)
    B, Cin, Cout, H, W, _, _, _, g, _, cl = geometry
    gen = torch.Generator().manual_seed(7)
    scale = (1 + 0.3 * torch.randn(B, Cout, generator=gen)).to(BF16)
    shift = (0.2 * torch.randn(B, Cout, generator=gen)).to(BF16)
    assert dyconv.cpu_engine_for(x, w, **kw) == "amx-bf16"
    geo = ([1, 1], list(kw["padding"]), list(kw["dilation"]))
    out, conv_out, mean, rstd = ops.dynamic_conv_norm_act(x, w, scale, shift, *geo, norm, act, 1e-5, g)
    fmt = torch.channels_last if cl else torch.contiguous_format
    assert out.dtype == BF16 and out.is_contiguous(memory_format=fmt)
    exact_conv = reference.dynamic_conv2d(x.double(), w.double(), **kw)
    absolute = reference.dynamic_conv2d(x.double().abs(), w.double().abs(), **kw)
    _assert_within_bound("conv_out", conv_out, exact_conv, absolute, Cin // g * 9 + 1)
    if norm != "none":
        dims = (1, 2, 3) if norm == "layer" else (2, 3)
        var, mu = torch.var_mean(exact_conv, dim=dims, unbiased=False)
        assert_close(mean.double(), mu.reshape(B, -1), BF16, "mean")
        assert_close(rstd.double(), (var + 1e-5).rsqrt().reshape(B, -1), BF16, "rstd")
    leaves = [t.double().requires_grad_() for t in (x, w, scale, shift)]
    want = reference.dynamic_conv_norm_act(*leaves, padding=kw["padding"], dilation=kw["dilation"], norm=norm,
                                           activation=act, groups=g)
    assert_close(out.double(), want.detach(), BF16, "out")
    gy = torch.randn(out.shape, generator=gen).to(BF16)
    got = ops.dynamic_conv_norm_act_backward(gy, x, w, scale, shift, conv_out, mean, rstd, *geo, norm, act,
                                             [True] * 4, g)
    assert got[0].is_contiguous(memory_format=fmt)
    for name, a, e in zip(("dx", "dw", "dscale", "dshift"), got, torch.autograd.grad(want, leaves, gy.double())):
        assert a.dtype == BF16, name
        if act != "relu":  # relu: the kink's side is decided on the rounded conv_out (docs/ops.md); see below
            assert_close(a.double(), e, BF16, name)
    # Against the float32 engines' backward on the same saved tensors (the same kink sides).
    monkeypatch.setenv("DYCONV_AMX", "0")
    converted = ops.dynamic_conv_norm_act_backward(gy, x, w, scale, shift, conv_out, mean, rstd, *geo, norm, act,
                                                   [True] * 4, g)
    for name, a, e in zip(("dx", "dw", "dscale", "dshift"), got, converted):
        assert_close(a.double(), e.double(), BF16, f"{name} against the float32 engines")
