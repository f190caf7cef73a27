"""Dynamic filter layer (paper §3.1, §4.1): the mask network run with generated filters."""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

import dyconv
from models.generator import GeneratedFilters


class DynamicFilterLayer(nn.Module):
    """Five dilated 3x3 convs (stride 1, "same" padding) with per-sample filters.

    Each layer is one call of ``conv_norm_act`` (by default
    :func:`dyconv.dynamic_conv_norm_act`): per-sample conv, layer norm over
    (C, H, W) of each sample, the generated per-channel scale and shift, then
    ReLU (layers 1-4) or sigmoid (layer 5): the output is a mask in (0, 1) of
    the input's shape. No parameters of its own.

    ``conv_norm_act`` is a plain attribute so that tests can run the model
    through :func:`dyconv.reference.dynamic_conv_norm_act` (see
    :func:`set_conv_norm_act`).
    """

    def __init__(self, dilations=(1, 2, 4, 8, 1), conv_norm_act: Callable | None = None):
        super().__init__()
        self.dilations = tuple(dilations)
        self.conv_norm_act = conv_norm_act or dyconv.dynamic_conv_norm_act

    def forward(self, x: torch.Tensor, filters: GeneratedFilters) -> torch.Tensor:
        last = len(self.dilations) - 1
        for i, (d, w, scale, shift) in enumerate(zip(self.dilations, *filters)):
            x = self.conv_norm_act(
                x, w, scale, shift, padding="same", dilation=d, norm="layer",
                activation="sigmoid" if i == last else "relu",
            )
        return x


def set_conv_norm_act(model: nn.Module, fn: Callable) -> nn.Module:
    """Make every :class:`DynamicFilterLayer` in ``model`` use ``fn`` (same signature
    as :func:`dyconv.dynamic_conv_norm_act`), e.g. ``dyconv.reference.dynamic_conv_norm_act``."""
    for m in model.modules():
        if isinstance(m, DynamicFilterLayer):
            m.conv_norm_act = fn
    return model
