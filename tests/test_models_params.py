"""Parameter counts of each part of the paper-size models, computed from the paper's layer list.

Paper §4.1/§4.2: CNN-FC convs 3x3 [12, 36, 72, 96, 96] and an FC over the
flattened last map; generator convs 3x3 [12, 72, 256] with batch norm, FC1-FC5
to the filters of the dynamic layer [24, 96, 96, 96, 1] (3x3, 1 input channel),
FC6-FC10 to its scales and shifts. Our choices on top (documented in the
modules): batch norm in CNN-FC too, no conv bias before a batch norm or layer
norm, the FC reads a (F, 13) grid (4x13 for 40 Mel bins).
"""
import pytest

import models

CLASSIFIER = [12, 36, 72, 96, 96]
GENERATOR = [12, 72, 256]
DYNAMIC = [24, 96, 96, 96, 1]
N_CLASSES = 10


def conv_bn(channels):
    """3x3 convs without bias, each followed by a batch norm (weight + bias)."""
    cins = [1] + channels[:-1]
    return sum(cout * cin * 9 + 2 * cout for cin, cout in zip(cins, channels))


def grid(n_mels=40, frames=248):
    f, t = n_mels, frames
    for (kf, kt), (sf, st) in [((3, 3), (2, 2)), ((3, 4), (2, 3)), ((3, 4), (2, 3))]:
        f, t = (f - kf) // sf + 1, (t - kt) // st + 1
    return f, t


def expected_counts():
    f, t = grid()
    classifier = conv_bn(CLASSIFIER) + (CLASSIFIER[-1] * f * t + 1) * N_CLASSES
    cins = [1] + DYNAMIC[:-1]
    filter_sizes = [cout * cin * 9 for cin, cout in zip(cins, DYNAMIC)]
    d = GENERATOR[-1]
    weight_heads = sum((d + 1) * n for n in filter_sizes)  # FC1-FC5
    norm_heads = sum((d + 1) * 2 * c for c in DYNAMIC)  # FC6-FC10
    generator = conv_bn(GENERATOR) + weight_heads + norm_heads
    static_mask = sum(filter_sizes) + sum(2 * c for c in DYNAMIC)  # SFE: weights + scale/shift
    return {
        "classifier": classifier,
        "generator convs": conv_bn(GENERATOR),
        "generator FC1-FC5": weight_heads,
        "generator FC6-FC10": norm_heads,
        "generator": generator,
        "sfe mask net": static_mask,
        "cnn-fc": classifier,
        "sfe": classifier + static_mask,
        "dfe": classifier + generator,
        "dcl": classifier + 2 * generator,
        "dsl": classifier + generator,
    }


def count(module):
    return sum(p.numel() for p in module.parameters())


@pytest.fixture(scope="module")
def paper_models():
    return {name: models.build(name, "paper") for name in models.NAMES}


def test_parameter_counts_match_paper_layer_list(paper_models):
    exp = expected_counts()
    dfe = paper_models["dfe"]
    gen = dfe.enhancer.generator
    got = {
        "classifier": count(dfe.classifier),
        "generator convs": count(gen.features),
        "generator FC1-FC5": count(gen.weight_heads),
        "generator FC6-FC10": count(gen.norm_heads),
        "generator": count(dfe.enhancer),
        "sfe mask net": count(paper_models["sfe"].enhancer),
        **{name: count(m) for name, m in paper_models.items()},
    }
    print("\nparameters, config='paper' (n_mels=40, 10 classes):")
    for key, n in got.items():
        print(f"  {key:20s} {n:>12,d}")
    assert got == exp


def test_trainable_parameters_are_the_enhancers(paper_models):
    exp = expected_counts()
    trainable = {name: sum(p.numel() for p in m.trainable_parameters()) for name, m in paper_models.items()}
    print("\ntrainable parameters, config='paper':", trainable)
    assert trainable == {
        "cnn-fc": exp["classifier"],
        "sfe": exp["sfe mask net"],
        "dfe": exp["generator"],
        "dcl": exp["generator"],  # stage 2 only
        "dsl": exp["generator"],  # one generator, applied twice
    }


@pytest.mark.parametrize("name", models.NAMES)
def test_small_config_keeps_structure(name, paper_models):
    """"small" has the same layers (types, kernels, strides, dilations, pools) with fewer channels."""
    small, paper = models.build(name, "small"), paper_models[name]

    def layout(model):
        out = []
        for m in model.modules():
            desc = [type(m).__name__]
            for attr in ("kernel_size", "stride", "dilation", "padding", "dilations"):
                if hasattr(m, attr):
                    desc.append(getattr(m, attr))
            out.append(tuple(desc))
        return out

    assert layout(small) == layout(paper)
    assert count(small) < count(paper)
    print(f"\n{name:7s} config='small': total {count(small):>10,d}   trainable "
          f"{sum(p.numel() for p in small.trainable_parameters()):>10,d}")
