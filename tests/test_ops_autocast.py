"""The ops under torch.autocast: values against dyconv.reference, dtypes, a model training step.

CPU autocast runs dynamic_conv2d and the transposed conv in the autocast dtype, as F.conv2d, and the fused op in
float32 (dyconv/_autocast.py);
CUDA autocast is tested in tests/test_cuda_gpu.py (marked cuda).
"""
import pytest
import torch
import torch.nn.functional as F

import dyconv
import models
from dyconv import reference
from conftest import assert_close, make_problem

LOW = [torch.bfloat16, torch.float16]


def _mixed_problem(low):
    """x float32 (data); weight, scale, shift in the low dtype (what autocast Linear heads produce)."""
    x, w, scale, shift, bias = make_problem(2, 3, 9, 8, 4, (3, 3), torch.float32, seed=2, bias=True)
    return [x] + [t.detach().to(low).requires_grad_() for t in (w, scale, shift, bias)]


def _upcast(tensors):
    return [t.detach().float().requires_grad_() for t in tensors]


def _check(fn, ref, inputs, what, out_dtype=torch.float32):
    """Under CPU autocast in the weight's dtype: a result of out_dtype, equal (within out_dtype's tolerance) to the
    reference on the inputs cast to it; gradients in each input's own dtype, equal to the reference's rounded to
    it."""
    low = inputs[1].dtype
    with torch.autocast("cpu", dtype=low):
        out = fn(*inputs)
    assert out.dtype == out_dtype, what
    ups = _upcast([t.to(out_dtype) for t in inputs])
    want = ref(*ups)
    assert_close(out.float(), want, out_dtype, f"{what}: output")
    g = torch.randn(out.shape, generator=torch.Generator().manual_seed(3)).to(out_dtype)
    got_grads = torch.autograd.grad(out, inputs, g)
    want_grads = torch.autograd.grad(want, ups, g.float())
    for i, (a, b, t) in enumerate(zip(got_grads, want_grads, inputs)):
        assert a.dtype == t.dtype, f"{what}: grad {i} dtype"
        if out_dtype == torch.float32:
            torch.testing.assert_close(a, b.to(t.dtype), msg=lambda m: f"{what}: grad {i}: {m}")
        else:
            assert_close(a.float(), b, out_dtype, f"{what}: grad {i}")


@pytest.mark.parametrize("low", LOW, ids=str)
def test_dynamic_conv2d_under_cpu_autocast(low):
    """Like F.conv2d: the autocast dtype in and out."""
    x, w, _, _, bias = _mixed_problem(low)
    kw = dict(padding="same", dilation=2)
    _check(lambda *a: dyconv.dynamic_conv2d(*a, **kw), lambda *a: reference.dynamic_conv2d(*a, **kw),
           [x, w, bias], "dynamic_conv2d", out_dtype=low)


@pytest.mark.parametrize("low", LOW, ids=str)
def test_dynamic_conv_transpose2d_under_cpu_autocast(low):
    """Like F.conv_transpose2d: the autocast dtype in and out."""
    x, w, _, _, bias = _mixed_problem(low)  # w (B, 4, 3, 3, 3): Cin 4 -> Cout 3 transposed
    x = torch.randn(2, 4, 9, 8, generator=torch.Generator().manual_seed(4)).requires_grad_()
    kw = dict(stride=2, padding=1, output_padding=1)
    bias = bias[:, :3].detach().requires_grad_()
    _check(lambda *a: dyconv.dynamic_conv_transpose2d(*a, **kw),
           lambda *a: reference.dynamic_conv_transpose2d(*a, **kw), [x, w, bias], "dynamic_conv_transpose2d",
           out_dtype=low)


def test_dynamic_conv2d_under_cpu_autocast_takes_amx_where_it_can():
    """A stride-1 layer wide enough: bfloat16 under autocast is the AMX path's result (skipped without AMX)."""
    x = torch.randn(2, 32, 12, 12, generator=torch.Generator().manual_seed(5))
    w = torch.randn(2, 32, 32, 3, 3, generator=torch.Generator().manual_seed(6)) / 17
    if dyconv.cpu_engine_for(x.bfloat16(), w, padding=1) != "amx-bf16":
        pytest.skip("this CPU has no AMX-BF16")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = dyconv.dynamic_conv2d(x, w, padding=1)
    assert torch.equal(out, dyconv.dynamic_conv2d(x.bfloat16(), w.bfloat16(), padding=1))


def test_channels_last_is_kept_under_cpu_autocast():
    """A channels_last x gives channels_last results: the conv's in the autocast dtype, the fused op's in float32."""
    gen = torch.Generator().manual_seed(8)
    x = torch.randn(2, 16, 12, 12, generator=gen).to(memory_format=torch.channels_last)
    w = torch.randn(2, 16, 16, 3, 3, generator=gen) / 12
    scale, shift = 1 + 0.2 * torch.randn(2, 16, generator=gen), 0.1 * torch.randn(2, 16, generator=gen)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = dyconv.dynamic_conv2d(x, w, padding=1)
        z = dyconv.dynamic_conv_norm_act(x, w, scale, shift, activation="sigmoid")
    assert y.dtype == torch.bfloat16 and y.is_contiguous(memory_format=torch.channels_last)
    assert z.dtype == torch.float32 and z.is_contiguous(memory_format=torch.channels_last)
    low = [t.bfloat16().double() for t in (x, w)]
    assert_close(y.double(), reference.dynamic_conv2d(*low, padding=1), torch.bfloat16, "conv")
    assert_close(z, reference.dynamic_conv_norm_act(x, w, scale, shift, activation="sigmoid"), torch.float32, "fused")


@pytest.mark.parametrize("low", LOW, ids=str)
@pytest.mark.parametrize("norm", ["layer", "instance", "none"])
def test_dynamic_conv_norm_act_under_cpu_autocast(low, norm):
    """Like autocast's float32 ops (layer_norm): float32 in and out."""
    x, w, scale, shift, _ = _mixed_problem(low)
    kw = dict(dilation=(1, 2), norm=norm, activation="sigmoid")
    _check(lambda *a: dyconv.dynamic_conv_norm_act(*a, **kw), lambda *a: reference.dynamic_conv_norm_act(*a, **kw),
           [x, w, scale, shift], f"dynamic_conv_norm_act {norm}")


def test_float64_is_left_alone_under_autocast():
    x, w, scale, shift = make_problem(2, 2, 6, 5, 3, (3, 3), torch.float64)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = dyconv.dynamic_conv_norm_act(x, w, scale, shift)
    assert out.dtype == torch.float64
    assert_close(out, reference.dynamic_conv_norm_act(x, w, scale, shift), torch.float64, "float64 output")


def test_dsl_trains_a_step_under_cpu_bfloat16_autocast():
    """Forward, backward and an Adam step of DSL (small) under bfloat16 autocast: the loss is the
    float32 loss within bfloat16 rounding and the step lowers it."""
    torch.manual_seed(0)
    model = models.build("dsl", "small")
    x = torch.rand(4, 1, 40, 64, generator=torch.Generator().manual_seed(1))
    y = torch.tensor([0, 3, 5, 9])
    params = model.trainable_parameters()
    optimizer = torch.optim.Adam(params, lr=1e-3)
    with torch.no_grad():
        loss32 = F.cross_entropy(model(x), y)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = F.cross_entropy(model(x), y)
    assert torch.isfinite(loss) and abs(loss.item() - loss32.item()) < 0.05 * loss32.item()
    loss.backward()
    assert all(p.grad is not None and p.grad.dtype == torch.float32 and torch.isfinite(p.grad).all() for p in params)
    before = [p.detach().clone() for p in params]
    for _ in range(3):
        optimizer.step()
        optimizer.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = F.cross_entropy(model(x), y)
        loss.backward()
    assert any(not torch.equal(a, p) for a, p in zip(before, params))
    with torch.no_grad():
        assert F.cross_entropy(model(x), y) < loss32
