"""Dual-stage enhancers (paper §3.3): DCL (cascade) and DSL (shared weights)."""
from __future__ import annotations

from torch import nn

from models.classifier import CNNFC
from models.configs import ModelConfig
from models.enhanced import EnhancedClassifier
from models.enhancers import DFE, dynamic_masker


class DCL(EnhancedClassifier):
    """Dual-stage cascade learning: ``x1 = x * m1(x)``, ``x2 = x1 * m2(x1)``, two generators.

    Stage 1 is a trained DFE's mask network and stays frozen (no gradients, eval
    mode) while stage 2 trains; both are frozen-from-construction along with the
    classifier. Training: train a DFE, then ``dcl.load_stage1(dfe)`` and optimise
    ``dcl.trainable_parameters()`` (stage 2 only). Stage 2 starts freshly
    initialised.
    """

    def __init__(self, cfg: ModelConfig, classifier: CNNFC):
        super().__init__(classifier)
        self.stage1 = dynamic_masker(cfg)
        self.stage2 = dynamic_masker(cfg)
        self.freeze_stage1()

    def stages(self) -> list[nn.Module]:
        return [self.stage1, self.stage2]

    def freeze_stage1(self) -> None:
        self.freeze("stage1")

    def load_stage1(self, dfe: DFE) -> None:
        """Copy a trained DFE's mask network into stage 1 and its classifier into :attr:`classifier`."""
        if not isinstance(dfe, DFE):
            raise ValueError(f"load_stage1 expects a trained DFE, got {type(dfe).__name__}")
        self.stage1.load_state_dict(dfe.enhancer.state_dict())
        self.load_classifier(dfe.classifier)


class DSL(EnhancedClassifier):
    """Dual-stage shared-weight learning: one mask network applied twice,
    ``x1 = x * m(x)``, ``x2 = x1 * m(x1)``, trained end to end.

    The generator's batch norms see both applications, so their running
    statistics (used in eval mode) mix the statistics of x and x1.
    """

    def __init__(self, cfg: ModelConfig, classifier: CNNFC):
        super().__init__(classifier)
        self.enhancer = dynamic_masker(cfg)

    def stages(self) -> list[nn.Module]:
        return [self.enhancer, self.enhancer]
