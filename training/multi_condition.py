"""Multi-condition training (our extension, off by default): the training set of a stage is the training clips,
each one either clean or as its noisy copy mixed with generic noises that are not test noises
(audiodata.train_noise), half and half by a seeded draw per clip.

The noisy copies are extracted once per (data, noises, SNR range) and cached, like the noisy test sets; the
training set keeps its size, so an epoch costs what a clean epoch costs (the same number of optimizer steps as
the clean-trained enhancer). The enhancers train on it with ``--train-noise``; the classifier too with
``--train-noise-classifier`` (its cache entry is then another one).
"""
from __future__ import annotations

import torch
from torch.utils.data import Dataset

from audiodata import cache
from audiodata.train_noise import noisy_train_set
from training.options import Options

COPIES = 1  # noisy copies per training clip
NOISY_FRACTION = 0.5  # of the training clips, drawn once per run seed


class MixedConditions(Dataset):
    """Item i: ``noisy[i]`` where ``noisy_items[i]``, else ``clean[i]`` (same label)."""

    def __init__(self, clean: Dataset, noisy: Dataset, noisy_items: torch.Tensor):
        if not len(clean) == len(noisy) == len(noisy_items):
            raise ValueError(f"clean, noisy and the choice must have one entry per clip, got {len(clean)}, "
                             f"{len(noisy)}, {len(noisy_items)}")
        self.clean, self.noisy, self.noisy_items = clean, noisy, noisy_items

    def __len__(self):
        return len(self.clean)

    def __getitem__(self, i):
        return (self.noisy if self.noisy_items[i] else self.clean)[i]


def enabled_for(opts: Options, stage: str) -> bool:
    return bool(opts.train_noise) and (stage != "cnn-fc" or opts.train_noise_classifier)


def training_set(splits, opts: Options, stage: str, seed: int, progress: bool = True) -> Dataset:
    """The training set of ``stage``: ``splits.train``, with the noisy copies when multi-condition is on for it
    (which clips are noisy is drawn with ``seed``, the run's seed)."""
    if not enabled_for(opts, stage):
        return splits.train
    noisy = noisy_train_set(splits, opts.train_noise, opts.train_snr, COPIES, cache_dir=opts.cache_dir,
                            workers=opts.workers, progress=progress)
    g = torch.Generator().manual_seed(seed)
    return MixedConditions(splits.train, noisy, torch.rand(len(splits.train), generator=g) < NOISY_FRACTION)


def classifier_key(opts: Options, fingerprint: str) -> str:
    """The data part of the classifier cache key: the clean data's fingerprint, or one that also names the
    noisy copies when the classifier trains on them."""
    if not enabled_for(opts, "cnn-fc"):
        return fingerprint
    return cache.digest([fingerprint, "multi-condition", sorted(opts.train_noise), list(opts.train_snr), COPIES,
                         NOISY_FRACTION])


def describe(opts: Options) -> str:
    if not opts.train_noise:
        return "multi-condition training: off (clean training clips only, as in the paper)"
    who = "enhancers and classifier" if opts.train_noise_classifier else "enhancers (classifier: clean only)"
    return (f"multi-condition training: {who} on the training clips, {100 * NOISY_FRACTION:.0f}% of them "
            f"replaced by a noisy copy, noises "
            f"{', '.join(opts.train_noise)} at {opts.train_snr[0]:g}..{opts.train_snr[1]:g} dB (none is a test noise)")
