"""Base of every enhancer: mask stages in front of a frozen CNN-FC classifier, and freezing."""
from __future__ import annotations

import torch
from torch import nn

from models.classifier import CNNFC
from models.shapes import check_input


class EnhancedClassifier(nn.Module):
    """``x -> x * m1(x) -> ... -> classifier``; subclasses set the mask stages.

    Freezing: :meth:`freeze` turns off ``requires_grad`` of a submodule's
    parameters and keeps it in eval mode (batch norm uses its running
    statistics) even when :meth:`train` is called on the whole model. The
    classifier is frozen from construction, as in the paper (§4.3): load the
    trained CNN-FC with :meth:`load_classifier` and optimise
    :meth:`trainable_parameters`.
    """

    def __init__(self, classifier: CNNFC):
        super().__init__()
        self.classifier = classifier
        self._frozen: list[str] = []
        self.freeze_classifier()

    @property
    def n_mels(self) -> int:
        return self.classifier.n_mels

    def stages(self) -> list[nn.Module]:
        """The mask networks in the order they are applied."""
        raise NotImplementedError

    def enhance(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``x`` (B, 1, n_mels, T) -> (enhanced x, [mask of each stage]); masks have x's shape."""
        check_input(x, self.n_mels, like=self.classifier.fc.weight)
        masks = []
        for stage in self.stages():
            mask = stage(x)
            x = x * mask
            masks.append(mask)
        return x, masks

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (B, 1, n_mels, T), T >= 32 -> logits (B, n_classes)."""
        return self.classifier.logits(self.enhance(x)[0])

    # --- training-time API -------------------------------------------------

    def freeze(self, name: str) -> None:
        """Freeze the submodule ``name`` (e.g. "classifier", "stage1")."""
        module = getattr(self, name)
        module.requires_grad_(False)
        module.eval()
        if name not in self._frozen:
            self._frozen.append(name)

    def freeze_classifier(self) -> None:
        self.freeze("classifier")

    def train(self, mode: bool = True):
        super().train(mode)
        for name in self._frozen:
            getattr(self, name).eval()
        return self

    def trainable_parameters(self) -> list[nn.Parameter]:
        """The parameters to give the optimizer (those not frozen)."""
        return [p for p in self.parameters() if p.requires_grad]

    def load_classifier(self, source: CNNFC | dict) -> None:
        """Copy a trained CNN-FC (module or state dict) into :attr:`classifier`; it stays frozen."""
        state = source.state_dict() if isinstance(source, nn.Module) else source
        self.classifier.load_state_dict(state)
