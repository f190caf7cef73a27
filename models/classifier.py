"""CNN-FC: the pre-trained classifier that every enhancer feeds (paper §4.2)."""
from __future__ import annotations

import torch
from torch import nn

from models.shapes import check_input, check_n_mels, max_pool, pooled_size

POOL_AFTER = (0, 2, 4)  # max-pool after the 1st, 3rd and 5th conv
PAPER_TIME_STEPS = 13  # time length of the last feature map for the paper's 248 frames


class CNNFC(nn.Module):
    """Five 3x3 convs, three max-pools, one FC; returns logits (the loss applies the softmax).

    Each conv is ``conv (no bias) -> batch norm -> ReLU`` ("same" padding, so only
    the pools shrink the grid; "valid" convs would leave too little for the last
    pool). Batch norm is our addition: the paper lists none for CNN-FC, but uses
    it in the filter generator, and it makes short training runs less sensitive
    to the learning rate and the feature scale. The conv bias is dropped because
    batch norm's shift replaces it. Enhancers keep this classifier frozen in
    eval mode, so its batch norm is then a fixed affine map.

    The FC reads the last feature map resampled by adaptive average pooling to
    ``(F, 13)``: ``F`` is the pooled frequency size (4 for 40 Mel bins) and 13
    the pooled time size for the paper's 248 frames. At 40x248 the resampling
    is the identity, so the model is exactly the paper's flatten + FC
    (96*4*13 -> n_classes); other lengths T >= 32 are stretched or averaged to
    13 steps.
    """

    def __init__(self, channels=(12, 36, 72, 96, 96), n_classes: int = 10, n_mels: int = 40):
        super().__init__()
        self.n_mels = check_n_mels(n_mels)
        layers, cin = [], 1
        for i, cout in enumerate(channels):
            layers += [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
            if i in POOL_AFTER:
                layers.append(max_pool(first=i == 0))
            cin = cout
        self.features = nn.Sequential(*layers)
        grid = (pooled_size(n_mels, len(POOL_AFTER), axis=0), PAPER_TIME_STEPS)
        self.resample = nn.AdaptiveAvgPool2d(grid)
        self.fc = nn.Linear(cin * grid[0] * grid[1], n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (B, 1, n_mels, T), T >= 32 -> logits (B, n_classes)."""
        check_input(x, self.n_mels, like=self.fc.weight)
        return self.logits(x)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` without the input checks (for enhancers, which check once)."""
        return self.fc(self.resample(self.features(x)).flatten(1))

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]
