"""Bad inputs and bad build arguments fail at the model boundary with a clear ValueError."""
import pytest
import torch

import models


@pytest.fixture(scope="module")
def built():
    return {name: models.build(name, "small") for name in models.NAMES}


BAD_INPUTS = [
    (torch.rand(2, 40, 64), r"4 dims .* got 3 dims.*unsqueeze\(1\)"),
    (torch.rand(40, 64), r"4 dims .* got 2 dims"),
    (torch.rand(2, 2, 40, 64), r"1 channel"),
    (torch.rand(2, 1, 64, 64), r"64 Mel bins but the model was built for n_mels=40"),
    (torch.rand(2, 1, 40, 31), r"31 frames, expected at least 32"),
    (torch.ones(2, 1, 40, 64, dtype=torch.int64), r"floating-point"),
    (torch.rand(2, 1, 40, 64, dtype=torch.float64), r"input is torch.float64 on cpu but the model is torch.float32"),
    ([[0.0]], r"torch.Tensor"),
]


@pytest.mark.parametrize("name", models.NAMES)
@pytest.mark.parametrize("x,match", BAD_INPUTS)
def test_bad_input_raises(built, name, x, match):
    with pytest.raises(ValueError, match=match):
        built[name](x)


@pytest.mark.parametrize("name", ["sfe", "dfe", "dcl", "dsl"])
def test_bad_input_raises_in_enhance(built, name):
    with pytest.raises(ValueError, match="Mel bins"):
        built[name].enhance(torch.rand(2, 1, 41, 64))


@pytest.mark.parametrize("name", models.NAMES)
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_input_raises(built, name, bad):
    x = torch.rand(2, 1, 40, 64)
    x[1, 0, 3, 5] = bad
    with pytest.raises(ValueError, match="NaN or infinite"):
        built[name](x)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(name="cnn"), r"name must be one of 'cnn-fc', 'sfe', 'dfe', 'dcl', 'dsl', got 'cnn'"),
        (dict(name="dfe", config="large"), r"config must be one of 'paper', 'small', got 'large'"),
        (dict(name="dfe", n_mels=14), r"n_mels must be an int >= 15"),
        (dict(name="cnn-fc", n_mels=40.0), r"n_mels must be an int"),
        (dict(name="dsl", n_classes=1), r"n_classes must be an int >= 2"),
    ],
)
def test_bad_build_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        models.build(**kwargs)


def test_bad_custom_config():
    small = models.CONFIGS["small"]
    with pytest.raises(ValueError, match=r"mask_channels must be 5 positive ints"):
        models.ModelConfig(small.classifier_channels, small.generator_channels,
                           small.generator_dilations, (8, 8, 1), small.mask_dilations)
    with pytest.raises(ValueError, match=r"must end in 1"):
        models.ModelConfig(small.classifier_channels, small.generator_channels,
                           small.generator_dilations, (8, 8, 8, 8, 2), small.mask_dilations)
    custom = models.ModelConfig((4, 4, 4, 4, 4), (4, 4, 8), (6, 4, 1), (4, 4, 4, 4, 1), (1, 2, 4, 8, 1))
    assert models.build("dsl", custom)(torch.rand(2, 1, 40, 32)).shape == (2, 10)
