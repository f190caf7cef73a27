"""Output shapes, masks in (0, 1), the pooling grid, any T >= 32 and other n_mels."""
import pytest
import torch

import models
from models.shapes import MIN_FRAMES, MIN_MELS

ENHANCERS = ["sfe", "dfe", "dcl", "dsl"]
N_STAGES = {"sfe": 1, "dfe": 1, "dcl": 2, "dsl": 2}


@pytest.mark.parametrize("name", models.NAMES)
@pytest.mark.parametrize("n_mels,frames", [(40, MIN_FRAMES), (40, 77), (MIN_MELS, 40), (64, 40)])
def test_logits_shape(name, n_mels, frames):
    torch.manual_seed(0)
    model = models.build(name, "small", n_classes=7, n_mels=n_mels)
    logits = model(torch.rand(2, 1, n_mels, frames))
    assert logits.shape == (2, 7)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("name", ENHANCERS)
def test_enhance_gives_masks_in_open_unit_interval(name):
    torch.manual_seed(0)
    model = models.build(name, "small")
    x = torch.rand(2, 1, 40, 48) + 0.1
    x_enh, masks = model.enhance(x)
    assert len(masks) == N_STAGES[name]
    expected = x
    for mask in masks:
        assert mask.shape == x.shape
        assert (mask > 0).all() and (mask < 1).all()
        expected = expected * mask
    torch.testing.assert_close(x_enh, expected)
    # the model's logits are the classifier's logits of the enhanced input
    torch.testing.assert_close(model(x), model.classifier(x_enh))


def test_paper_config_shapes():
    torch.manual_seed(0)
    model = models.build("dfe", "paper")
    x = torch.rand(2, 1, 40, MIN_FRAMES)
    x_enh, (mask,) = model.enhance(x)
    assert mask.shape == x.shape and (mask > 0).all() and (mask < 1).all()
    assert model(x).shape == (2, 10)
    filters = model.enhancer.generator(x)
    cin = 1
    for w, s, b, cout in zip(*filters, (24, 96, 96, 96, 1)):
        assert w.shape == (2, cout, cin, 3, 3) and s.shape == b.shape == (2, cout)
        cin = cout


def _pooled(n, pools):
    for k, s in pools:
        n = (n - k) // s + 1
    return n


def test_classifier_grid_at_paper_shape_is_flatten():
    """At 40x248 the last feature map is 4x13 (floor-mode pools 3x3/2x2, 3x4/2x3, 3x4/2x3)
    and the adaptive pooling before the FC is the identity: the paper's flatten + FC."""
    model = models.build("cnn-fc", "small").eval()
    x = torch.rand(2, 1, 40, 248)
    feats = model.features(x)
    grid = (_pooled(40, [(3, 2), (3, 2), (3, 2)]), _pooled(248, [(3, 2), (4, 3), (4, 3)]))
    assert feats.shape[2:] == grid == (4, 13)
    torch.testing.assert_close(model.resample(feats), feats)
    torch.testing.assert_close(model(x), model.fc(feats.flatten(1)))
