"""dyconv.nn layers against their formulas, written here independently (per-sample F.conv2d /
F.conv_transpose2d loops, timm's CondConv grouped idiom), in float64."""
import math

import pytest
import torch
import torch.nn.functional as F

import dyconv.nn as dnn

F64 = torch.float64


def test_dynamic_conv2d_module_is_f_conv2d_per_sample():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 6, 9, 8, generator=g, dtype=F64)
    w = torch.randn(3, 4, 3, 3, 3, generator=g, dtype=F64)
    b = torch.randn(3, 4, generator=g, dtype=F64)
    layer = dnn.DynamicConv2d(stride=2, padding=1, dilation=2, groups=2)
    want = torch.cat([F.conv2d(x[i:i + 1], w[i], b[i], 2, 1, 2, 2) for i in range(3)])
    torch.testing.assert_close(layer(x, w, b), want, rtol=1e-12, atol=1e-12)
    assert list(layer.parameters()) == []
    assert repr(layer) == "DynamicConv2d(stride=2, padding=1, dilation=2, groups=2)"


def _timm_state_dict(E, Cout, Cin, groups, k, bias, seed):
    """A state dict with timm CondConv2d's keys and shapes: weight (E, Cout * Cin/groups * k * k), bias (E, Cout)."""
    g = torch.Generator().manual_seed(seed)
    sd = {"weight": torch.randn(E, Cout * (Cin // groups) * k * k, generator=g, dtype=F64)}
    if bias:
        sd["bias"] = torch.randn(E, Cout, generator=g, dtype=F64)
    return sd


def _timm_forward(sd, x, routing, Cout, Cin, groups, k, stride, padding, dilation):
    """timm's CondConv2d.forward: expert mix, then one grouped F.conv2d with groups * B groups."""
    B, C, H, W = x.shape
    weight = torch.matmul(routing, sd["weight"]).view(B * Cout, Cin // groups, k, k)
    bias = torch.matmul(routing, sd["bias"]).view(B * Cout) if "bias" in sd else None
    out = F.conv2d(x.reshape(1, B * C, H, W), weight, bias, stride, padding, dilation, groups * B)
    return out.permute([1, 0, 2, 3]).view(B, Cout, out.shape[-2], out.shape[-1])


@pytest.mark.parametrize("Cin,Cout,groups,k,stride,bias", [
    (8, 16, 1, 1, 1, False),    # pointwise expansion
    (12, 12, 12, 5, 1, False),  # depthwise k5 (EfficientNet-CondConv)
    (6, 4, 2, 3, 2, True),      # grouped, strided, with bias
])
def test_cond_conv2d_loads_a_timm_state_dict_and_matches_timms_forward(Cin, Cout, groups, k, stride, bias):
    E = 4
    layer = dnn.CondConv2d(Cin, Cout, k, stride=stride, groups=groups, bias=bias, num_experts=E).double()
    sd = _timm_state_dict(E, Cout, Cin, groups, k, bias, seed=1)
    assert {n: tuple(p.shape) for n, p in layer.state_dict().items()} == {n: tuple(t.shape) for n, t in sd.items()}
    layer.load_state_dict(sd, strict=True)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(3, Cin, 9, 10, generator=g, dtype=F64)
    routing = torch.sigmoid(torch.randn(3, E, generator=g, dtype=F64))
    padding = ((stride - 1) + (k - 1)) // 2  # timm's default padding='' (get_padding)
    want = _timm_forward(sd, x, routing, Cout, Cin, groups, k, stride, padding, 1)
    torch.testing.assert_close(layer(x, routing), want, rtol=1e-12, atol=1e-12)


def test_cond_conv2d_initialisation_is_timms():
    """timm: each expert viewed as (Cout, Cin/groups, k, k), kaiming_uniform_(a=sqrt(5)); bias uniform(+-1/sqrt(fan_in))."""
    Cin, Cout, k, E = 6, 5, 3, 3
    torch.manual_seed(7)
    layer = dnn.CondConv2d(Cin, Cout, k, bias=True, num_experts=E)
    torch.manual_seed(7)
    weight, bias = torch.empty(E, Cout * Cin * k * k), torch.empty(E, Cout)
    for e in range(E):
        torch.nn.init.kaiming_uniform_(weight[e].view(Cout, Cin, k, k), a=math.sqrt(5))
    bound = 1 / math.sqrt(Cin * k * k)
    for e in range(E):
        torch.nn.init.uniform_(bias[e].view(Cout), -bound, bound)
    assert torch.equal(layer.weight.detach(), weight) and torch.equal(layer.bias.detach(), bias)
    assert "num_experts=3" in repr(layer)


def _stylegan_reference(weight, x, styles, demodulate, up, padding, eps=1e-8):
    """StyleGAN2's modulated_conv2d per sample: modulate, demodulate, conv (or stride-2 transposed conv)."""
    Cout, Cin, k, _ = weight.shape
    outs = []
    for b in range(x.shape[0]):
        w = weight / math.sqrt(Cin * k * k) * styles[b].view(1, Cin, 1, 1)
        if demodulate:
            w = w / torch.sqrt((w ** 2).sum(dim=(1, 2, 3), keepdim=True) + eps)
        if up == 1:
            outs.append(F.conv2d(x[b:b + 1], w, padding=padding))
        else:
            outs.append(F.conv_transpose2d(x[b:b + 1], w.transpose(0, 1), stride=2, padding=padding))
    return torch.cat(outs)


@pytest.mark.parametrize("up", [1, 2])
@pytest.mark.parametrize("demodulate", [True, False])
def test_modulated_conv2d_both_paths_match_the_formula_and_each_other(up, demodulate):
    torch.manual_seed(3)
    layer = dnn.ModulatedConv2d(6, 5, 3, demodulate=demodulate, up=up).double()
    x = torch.randn(3, 6, 7, 8, dtype=F64, requires_grad=True)
    styles = torch.randn(3, 6, dtype=F64, requires_grad=True)
    want = _stylegan_reference(layer.weight, x, styles, demodulate, up, layer.padding)
    outs = {}
    for path in ("per_sample", "dense", "auto"):
        layer.path = path
        outs[path] = layer(x, styles)
        torch.testing.assert_close(outs[path], want, rtol=1e-10, atol=1e-12)
        assert layer.last_path in ("per_sample", "dense")
    g = torch.randn(want.shape, dtype=F64)
    grads = {p: torch.autograd.grad(o, (x, styles, layer.weight), g) for p, o in outs.items()}
    for a, b, c in zip(grads["per_sample"], grads["dense"], grads["auto"]):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(a, c, rtol=1e-10, atol=1e-12)


def test_modulated_conv2d_auto_choice_is_cached_per_shape_and_float32_paths_agree():
    layer = dnn.ModulatedConv2d(16, 16, 3)
    x, styles = torch.randn(2, 16, 12, 12), torch.randn(2, 16)
    with torch.no_grad():
        first = layer(x, styles)
        chosen = layer.last_path
        again = layer(x, styles)
    assert layer.last_path == chosen and torch.equal(first, again)
    with torch.no_grad():
        torch.testing.assert_close(layer.per_sample(x, styles), layer.dense(x, styles), rtol=1e-4, atol=1e-5)
    assert "path='auto'" in repr(layer)


def test_modulated_conv2d_rejects_bad_arguments():
    with pytest.raises(ValueError, match="up must be 1 or 2"):
        dnn.ModulatedConv2d(4, 4, up=4)
    with pytest.raises(ValueError, match="path must be one of"):
        dnn.ModulatedConv2d(4, 4, path="grouped")
