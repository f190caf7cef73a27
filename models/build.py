"""``models.build``: the one entry point the experiments and outside scripts use."""
from __future__ import annotations

from torch import nn

from models.classifier import CNNFC
from models.configs import ModelConfig, get_config
from models.dual_stage import DCL, DSL
from models.enhancers import DFE, SFE
from models.shapes import check_n_mels

ENHANCERS = {"sfe": SFE, "dfe": DFE, "dcl": DCL, "dsl": DSL}
NAMES = ("cnn-fc", *ENHANCERS)


def build(name: str, config: str | ModelConfig = "paper", n_classes: int = 10, n_mels: int = 40) -> nn.Module:
    """Build one of the paper's systems.

    Args:
        name: "cnn-fc" | "sfe" | "dfe" | "dcl" | "dsl".
        config: "paper" (the paper's widths) | "small" (fewer channels, same structure)
            | a :class:`models.ModelConfig` with other widths.
        n_classes: number of output classes.
        n_mels: Mel bins of the input (>= 15).

    Returns a module with ``model(x) -> logits (B, n_classes)`` for x of shape
    (B, 1, n_mels, T), T >= 32, and ``model.trainable_parameters()``.
    Enhancers also have ``.classifier`` (a CNN-FC, frozen from construction;
    ``.load_classifier(trained_cnn_fc)`` fills it) and ``.enhance(x) ->
    (x_enhanced, [mask of each stage])``. DCL's stage 1 is frozen too and is
    filled from a trained DFE with ``.load_stage1(dfe)``.
    """
    if name not in NAMES:
        raise ValueError(f"name must be one of {', '.join(map(repr, NAMES))}, got {name!r}")
    if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 2:
        raise ValueError(f"n_classes must be an int >= 2, got {n_classes!r}")
    cfg = get_config(config)
    classifier = CNNFC(cfg.classifier_channels, n_classes, check_n_mels(n_mels))
    if name == "cnn-fc":
        return classifier
    return ENHANCERS[name](cfg, classifier)


__all__ = ["build", "NAMES"]
