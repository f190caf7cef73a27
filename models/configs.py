"""Layer widths and dilations of the models: the paper's sizes and a small CPU-friendly set.

Both configurations have the same structure (five classifier convs with three
max-pools, a three-layer dilated generator with ten FC heads, a five-layer
dilated dynamic filter layer ending in one mask channel); "small" only has
fewer channels, for fast CPU training and tests.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelConfig:
    classifier_channels: tuple[int, ...]  # CNN-FC, 5 convs 3x3
    generator_channels: tuple[int, ...]  # filter generator, 3 dilated convs 3x3
    generator_dilations: tuple[int, ...]
    mask_channels: tuple[int, ...]  # dynamic filter layer / SFE, 5 dilated convs 3x3, last is 1
    mask_dilations: tuple[int, ...]

    def __post_init__(self):
        lengths = {
            "classifier_channels": 5, "generator_channels": 3, "generator_dilations": 3,
            "mask_channels": 5, "mask_dilations": 5,
        }
        for field, n in lengths.items():
            value = tuple(getattr(self, field))
            positive = all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value)
            if len(value) != n or not positive:
                raise ValueError(f"ModelConfig.{field} must be {n} positive ints, got {value!r}")
            object.__setattr__(self, field, value)
        if self.mask_channels[-1] != 1:
            raise ValueError(
                f"ModelConfig.mask_channels must end in 1 (the mask channel), got {self.mask_channels!r}"
            )


CONFIGS = {
    # Paper §4.1 (filter generator, dynamic filter layer) and §4.2 (CNN-FC).
    "paper": ModelConfig(
        classifier_channels=(12, 36, 72, 96, 96),
        generator_channels=(12, 72, 256),
        generator_dilations=(6, 4, 1),
        mask_channels=(24, 96, 96, 96, 1),
        mask_dilations=(1, 2, 4, 8, 1),
    ),
    # Same structure, fewer channels (fast on a 2-core CPU).
    "small": ModelConfig(
        classifier_channels=(8, 16, 32, 48, 48),
        generator_channels=(8, 24, 64),
        generator_dilations=(6, 4, 1),
        mask_channels=(12, 24, 24, 24, 1),
        mask_dilations=(1, 2, 4, 8, 1),
    ),
}


def get_config(config: str | ModelConfig) -> ModelConfig:
    """``"paper"`` | ``"small"`` | a :class:`ModelConfig` (custom widths) -> :class:`ModelConfig`."""
    if isinstance(config, ModelConfig):
        return config
    if config not in CONFIGS:
        raise ValueError(f"config must be one of {', '.join(map(repr, CONFIGS))}, got {config!r}")
    return CONFIGS[config]
