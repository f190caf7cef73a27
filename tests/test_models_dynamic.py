"""The dynamic path: generated filters (per sample, initial scale), the dyconv hook, gradients."""
import copy
import math

import pytest
import torch
import torch.nn.functional as F

import dyconv
import models


def test_generated_filters_differ_per_sample():
    torch.manual_seed(0)
    gen = models.build("dfe", "small").enhancer.generator.eval()
    x = torch.rand(2, 1, 40, 40)
    x[1] = torch.rand(1, 40, 40) ** 3  # a clearly different second clip
    filters = gen(x)
    for group in filters:
        for t in group:
            assert not torch.allclose(t[0], t[1], rtol=0, atol=1e-4)
    # and the same clip gives the same filters wherever it sits in the batch
    again = gen(x.flip(0))
    for a, b in zip(filters.weights, again.weights):
        torch.testing.assert_close(a, b.flip(0))


def test_initial_filters_at_default_conv_scale():
    """At initialisation the generated filters look like nn.Conv2d's default init
    (U(-1/sqrt(fan_in), 1/sqrt(fan_in)), std bound/sqrt(3)), scales are near 1, shifts near 0 (the mask
    layer's too)."""
    torch.manual_seed(0)
    gen = models.build("dfe", "small").enhancer.generator.eval()
    filters = gen(torch.rand(4, 1, 40, 32))
    for w in filters.weights:
        bound = 1 / math.sqrt(w.shape[2] * 9)
        ratio = w.std().item() / (bound / math.sqrt(3))
        assert 0.8 < ratio < 1.25, ratio
        per_sample = (w - w.mean(0)).std().item()
        assert 0 < per_sample < 0.5 * bound
    for s, b in zip(filters.scales, filters.shifts):
        assert (s - 1).abs().max() < 0.5 and b.abs().max() < 0.5


def test_dynamic_enhancers_start_with_masks_that_act():
    """A fresh dynamic enhancer's mask is sigmoid of a layer-normalized output: per sample, mean ~0.5 and
    spread ~0.2 over the time-frequency bins (not a near-identity mask that training keeps at 1)."""
    torch.manual_seed(0)
    x = torch.rand(3, 1, 40, 64)
    for name in ("dfe", "dcl", "dsl"):
        _, masks = models.build(name, "small").eval().enhance(x)
        for m in masks:
            mean, std = m.mean(dim=(1, 2, 3)), m.std(dim=(1, 2, 3))
            assert ((mean - 0.5).abs() < 0.1).all() and ((std > 0.12) & (std < 0.3)).all(), (name, mean, std)


def test_static_enhancer_starts_near_the_identity():
    """SFE's learned mask affine moves slowly under Adam, so its mask starts close to 1 (models.generator)."""
    torch.manual_seed(0)
    _, (m,) = models.build("sfe", "small").eval().enhance(torch.rand(3, 1, 40, 64))
    assert m.min() > 0.8 and m.mean() > 0.95, (m.min().item(), m.mean().item())


def _spy(fn, calls):
    def wrapped(*args, **kwargs):
        calls.append(kwargs)
        return fn(*args, **kwargs)
    return wrapped


@pytest.mark.parametrize("name,stages", [("sfe", 1), ("dfe", 1), ("dcl", 2), ("dsl", 2)])
def test_dyconv_and_reference_agree(name, stages):
    """Same logits and gradients when the dynamic layer runs on dyconv.reference;
    each stage makes exactly five calls of the op with the paper's settings."""
    torch.manual_seed(0)
    model = models.build(name, "small", n_mels=24).double()
    model.train()
    ref = copy.deepcopy(model)
    calls_fast, calls_ref = [], []
    models.set_conv_norm_act(model, _spy(dyconv.dynamic_conv_norm_act, calls_fast))
    models.set_conv_norm_act(ref, _spy(dyconv.reference.dynamic_conv_norm_act, calls_ref))
    x = torch.rand(2, 1, 24, 32, dtype=torch.float64)
    y = torch.tensor([1, 7])
    out_fast, out_ref = model(x), ref(x)
    torch.testing.assert_close(out_fast, out_ref, rtol=1e-9, atol=1e-10)
    F.cross_entropy(out_fast, y).backward()
    F.cross_entropy(out_ref, y).backward()
    for (n, p), (_, q) in zip(model.named_parameters(), ref.named_parameters()):
        if p.requires_grad:
            torch.testing.assert_close(p.grad, q.grad, rtol=1e-7, atol=1e-9, msg=n)
    assert len(calls_fast) == len(calls_ref) == 5 * stages
    assert [c["dilation"] for c in calls_fast] == [1, 2, 4, 8, 1] * stages
    assert [c["activation"] for c in calls_fast] == (["relu"] * 4 + ["sigmoid"]) * stages
    assert {c["norm"] for c in calls_fast} == {"layer"} and {c["padding"] for c in calls_fast} == {"same"}


@pytest.mark.parametrize("name", ["dfe", "dcl", "dsl"])
def test_gradients_reach_generator_first_layer(name):
    torch.manual_seed(0)
    model = models.build(name, "small", n_mels=24).train()
    if name == "dcl":
        generator = model.stage2.generator
    else:
        generator = model.enhancer.generator
    F.cross_entropy(model(torch.rand(2, 1, 24, 32)), torch.tensor([0, 3])).backward()
    first = generator.features[0].weight
    assert first.grad is not None and first.grad.abs().sum() > 0
    for head in list(generator.weight_heads) + list(generator.norm_heads):
        assert head.weight.grad.abs().sum() > 0
