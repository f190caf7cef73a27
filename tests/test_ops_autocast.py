"""The ops under torch.autocast: values against dyconv.reference, dtypes, a model training step.

CPU autocast runs the ops in float32 and returns float32 (dyconv/_autocast.py);
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


def _check(fn, ref, inputs, what):
    """Under CPU autocast: float32 result equal to the reference on the float32-cast inputs; gradients
    in each input's own dtype, equal to the reference's rounded to it."""
    with torch.autocast("cpu", dtype=inputs[1].dtype):
        out = fn(*inputs)
    assert out.dtype == torch.float32, what
    ups = _upcast(inputs)
    want = ref(*ups)
    assert_close(out, want, torch.float32, f"{what}: output")
    g = torch.randn(out.shape, generator=torch.Generator().manual_seed(3))
    got_grads = torch.autograd.grad(out, inputs, g)
    want_grads = torch.autograd.grad(want, ups, g)
    for i, (a, b, t) in enumerate(zip(got_grads, want_grads, inputs)):
        assert a.dtype == t.dtype, f"{what}: grad {i} dtype"
        torch.testing.assert_close(a, b.to(t.dtype), msg=lambda m: f"{what}: grad {i}: {m}")


@pytest.mark.parametrize("low", LOW, ids=str)
def test_dynamic_conv2d_under_cpu_autocast(low):
    x, w, _, _, bias = _mixed_problem(low)
    kw = dict(padding="same", dilation=2)
    _check(lambda *a: dyconv.dynamic_conv2d(*a, **kw), lambda *a: reference.dynamic_conv2d(*a, **kw),
           [x, w, bias], "dynamic_conv2d")


@pytest.mark.parametrize("low", LOW, ids=str)
@pytest.mark.parametrize("norm", ["layer", "instance", "none"])
def test_dynamic_conv_norm_act_under_cpu_autocast(low, norm):
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
