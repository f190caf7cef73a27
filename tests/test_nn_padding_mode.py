"""padding_mode of the dyconv.nn layers against nn.Conv2d with the same padding_mode, sample by sample
(float64 values and gradients), and nn.Conv2d's errors."""
import pytest
import torch
from torch import nn

import dyconv.nn as dnn

F64 = torch.float64
MODES = ["zeros", "reflect", "replicate", "circular"]


def _nn_conv2d(weight, bias, **kw):
    """nn.Conv2d (float64) holding one sample's weight (Cout, Cin // groups, kH, kW) and bias (Cout)."""
    Cout, Cin_g, kH, kW = weight.shape
    groups = kw.get("groups", 1)
    conv = nn.Conv2d(Cin_g * groups, Cout, (kH, kW), bias=bias is not None, dtype=F64, **kw)
    del conv.weight, conv.bias
    conv.weight, conv.bias = weight, bias  # tensors of the graph: gradients flow back to them
    return conv


def _per_sample_nn(x, weight, bias, **kw):
    return torch.cat([_nn_conv2d(weight[b], None if bias is None else bias[b], **kw)(x[b:b + 1])
                      for b in range(x.shape[0])])


def _assert_values_and_grads(got, want, inputs):
    torch.testing.assert_close(got, want, rtol=1e-11, atol=1e-11)
    g = torch.randn(want.shape, dtype=F64)
    for a, b in zip(torch.autograd.grad(got, inputs, g), torch.autograd.grad(want, inputs, g)):
        torch.testing.assert_close(a, b, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("padding_mode", MODES)
@pytest.mark.parametrize("kernel,kw", [
    ((3, 3), dict(padding=1)),
    ((3, 5), dict(padding=(2, 1), stride=2, groups=2)),
    ((2, 4), dict(padding="same", dilation=(3, 1))),  # odd total padding: the far side gets one more
    ((3, 3), dict(padding="valid", dilation=2)),
])
def test_dynamic_conv2d_padding_mode_is_nn_conv2d_per_sample(padding_mode, kernel, kw):
    g = torch.Generator().manual_seed(0)
    groups = kw.get("groups", 1)
    x = torch.randn(3, 4, 9, 10, generator=g, dtype=F64, requires_grad=True)
    w = torch.randn(3, 6, 4 // groups, *kernel, generator=g, dtype=F64, requires_grad=True)
    b = torch.randn(3, 6, generator=g, dtype=F64, requires_grad=True)
    layer = dnn.DynamicConv2d(**kw, padding_mode=padding_mode)
    _assert_values_and_grads(layer(x, w, b), _per_sample_nn(x, w, b, padding_mode=padding_mode, **kw), (x, w, b))
    assert (f"padding_mode={padding_mode!r}" in repr(layer)) == (padding_mode != "zeros")


@pytest.mark.parametrize("padding_mode", MODES)
def test_cond_conv2d_padding_mode_is_nn_conv2d_with_the_mixed_kernel(padding_mode):
    E, Cin, Cout, k = 3, 4, 5, 3
    layer = dnn.CondConv2d(Cin, Cout, k, stride=2, bias=True, num_experts=E, padding_mode=padding_mode).double()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, Cin, 8, 7, generator=g, dtype=F64, requires_grad=True)
    routing = torch.rand(2, E, generator=g, dtype=F64, requires_grad=True)
    w = (routing @ layer.weight).view(2, Cout, Cin, k, k)
    want = _per_sample_nn(x, w, routing @ layer.bias, stride=2, padding=layer.padding, padding_mode=padding_mode)
    _assert_values_and_grads(layer(x, routing), want, (x, routing, layer.weight, layer.bias))


@pytest.mark.parametrize("padding_mode", MODES)
@pytest.mark.parametrize("path", ["per_sample", "dense"])
def test_modulated_conv2d_padding_mode_is_nn_conv2d_with_the_modulated_kernel(padding_mode, path):
    layer = dnn.ModulatedConv2d(4, 5, 3, padding=2, path=path, padding_mode=padding_mode).double()
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 4, 6, 7, generator=g, dtype=F64, requires_grad=True)
    styles = torch.randn(2, 4, generator=g, dtype=F64, requires_grad=True)
    w = layer.gain * layer.weight[None] * styles[:, None, :, None, None]
    w = w * torch.rsqrt(w.square().sum((2, 3, 4)) + layer.eps)[:, :, None, None, None]
    want = _per_sample_nn(x, w, None, padding=2, padding_mode=padding_mode)
    _assert_values_and_grads(layer(x, styles), want, (x, styles, layer.weight))


def _error(fn):
    with pytest.raises(Exception) as e:
        fn()
    return type(e.value), str(e.value)


@pytest.mark.parametrize("padding_mode,padding,size", [
    ("reflect", 3, 3),     # reflect padding must be smaller than the input
    ("reflect", (0, 2), 2),
    ("circular", 4, 3),    # circular padding wraps around at most once
])
def test_padding_larger_than_the_input_is_nn_conv2ds_error(padding_mode, padding, size):
    x, w = torch.randn(2, 2, size, size, dtype=F64), torch.randn(2, 2, 2, 3, 3, dtype=F64)
    want_type, want_msg = _error(lambda: _nn_conv2d(w[0], None, padding=padding, padding_mode=padding_mode)(x))
    got_type, got_msg = _error(lambda: dnn.DynamicConv2d(padding=padding, padding_mode=padding_mode)(x, w))
    assert got_type is want_type and got_msg == want_msg


def test_bad_padding_arguments_are_rejected_at_construction_like_nn_conv2d():
    for kw in (dict(padding_mode="mirror"), dict(padding="full", padding_mode="reflect"),
               dict(padding="same", stride=2, padding_mode="circular")):
        with pytest.raises(ValueError):
            nn.Conv2d(2, 2, 3, **kw)
        with pytest.raises(ValueError, match="padding_mode must be one of" if "mirror" in kw.values() else "padding"):
            dnn.DynamicConv2d(**kw)
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        dnn.CondConv2d(2, 2, padding_mode="mirror")
    with pytest.raises(ValueError, match='only padding_mode="zeros" is supported for transposed'):
        dnn.ModulatedConv2d(2, 2, up=2, padding_mode="reflect")
