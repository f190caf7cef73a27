"""Single-stage enhancers: SFE (static mask, paper §4.2) and DFE (dynamic mask, §3.1)."""
from __future__ import annotations

from torch import nn

from models.classifier import CNNFC
from models.configs import ModelConfig
from models.enhanced import EnhancedClassifier
from models.maskers import DynamicMasker, StaticMasker


def dynamic_masker(cfg: ModelConfig) -> DynamicMasker:
    return DynamicMasker(
        cfg.generator_channels, cfg.generator_dilations, cfg.mask_channels, cfg.mask_dilations
    )


class SFE(EnhancedClassifier):
    """``classifier(x * m(x))`` with a static mask network :attr:`enhancer`."""

    def __init__(self, cfg: ModelConfig, classifier: CNNFC):
        super().__init__(classifier)
        self.enhancer = StaticMasker(cfg.mask_channels, cfg.mask_dilations)

    def stages(self) -> list[nn.Module]:
        return [self.enhancer]


class DFE(EnhancedClassifier):
    """``classifier(x * m(x))`` with a dynamic mask network :attr:`enhancer`
    (filter generator + dynamic filter layer)."""

    def __init__(self, cfg: ModelConfig, classifier: CNNFC):
        super().__init__(classifier)
        self.enhancer = dynamic_masker(cfg)

    def stages(self) -> list[nn.Module]:
        return [self.enhancer]
