"""A statistic over one value (instance norm of a 1x1 output, layer norm of one channel of 1x1):
the value is its own mean, the normalized value exactly 0, so the fused op gives exactly act(shift)
and no gradient reaches x or weight (F.instance_norm refuses this input in training)."""
import pytest
import torch

import dyconv

ACTS = {"relu": torch.relu, "sigmoid": torch.sigmoid, "none": lambda t: t}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("activation", list(ACTS))
@pytest.mark.parametrize("norm,Cout", [("instance", 5), ("layer", 1)])
def test_single_value_statistics_give_exactly_act_shift(norm, Cout, activation, dtype):
    g = torch.Generator().manual_seed(0)
    x = (1e3 * torch.randn(3, 4, 3, 3, generator=g, dtype=dtype)).requires_grad_()  # 3x3 "valid" -> 1x1
    w = torch.randn(3, Cout, 4, 3, 3, generator=g, dtype=dtype).requires_grad_()
    scale = torch.randn(3, Cout, generator=g, dtype=dtype).requires_grad_()
    shift = torch.randn(3, Cout, generator=g, dtype=dtype).requires_grad_()
    out = dyconv.dynamic_conv_norm_act(x, w, scale, shift, padding=0, norm=norm, activation=activation)
    want = ACTS[activation](shift)[:, :, None, None]
    assert torch.equal(out, want)
    grad = torch.randn(out.shape, generator=g, dtype=dtype)
    gx, gw, gscale, gshift = torch.autograd.grad(out, (x, w, scale, shift), grad)
    assert torch.equal(gx, torch.zeros_like(x)) and torch.equal(gw, torch.zeros_like(w))
    assert torch.equal(gscale, torch.zeros_like(scale))
    want_shift = torch.autograd.grad(want, shift, grad)[0]
    torch.testing.assert_close(gshift, want_shift, rtol=1e-6 if dtype == torch.float32 else 1e-12, atol=0)
