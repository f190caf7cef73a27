"""Multi-condition training (our extension, off by default): the training set of a stage is the clean training
clips plus one noisy copy of each, mixed with generic noises that are not test noises (audiodata.train_noise).

The noisy copies are extracted once per (data, noises, SNR range) and cached, like the noisy test sets, so an
epoch costs what an epoch of twice as many clean clips costs. The enhancers train on them with
``--train-noise``; the classifier too with ``--train-noise-classifier`` (its cache entry is then another one).
"""
from __future__ import annotations

from torch.utils.data import ConcatDataset, Dataset

from audiodata import cache
from audiodata.train_noise import noisy_train_set
from training.options import Options

COPIES = 1  # noisy copies per training clip


def enabled_for(opts: Options, stage: str) -> bool:
    return bool(opts.train_noise) and (stage != "cnn-fc" or opts.train_noise_classifier)


def training_set(splits, opts: Options, stage: str, progress: bool = True) -> Dataset:
    """The training set of ``stage``: ``splits.train``, plus the noisy copies when multi-condition is on for it."""
    if not enabled_for(opts, stage):
        return splits.train
    noisy = noisy_train_set(splits, opts.train_noise, opts.train_snr, COPIES, cache_dir=opts.cache_dir,
                            workers=opts.workers, progress=progress)
    return ConcatDataset([splits.train, noisy])


def classifier_key(opts: Options, fingerprint: str) -> str:
    """The data part of the classifier cache key: the clean data's fingerprint, or one that also names the
    noisy copies when the classifier trains on them."""
    if not enabled_for(opts, "cnn-fc"):
        return fingerprint
    return cache.digest([fingerprint, "multi-condition", sorted(opts.train_noise), list(opts.train_snr), COPIES])


def describe(opts: Options) -> str:
    if not opts.train_noise:
        return "multi-condition training: off (clean training clips only, as in the paper)"
    who = "enhancers and classifier" if opts.train_noise_classifier else "enhancers (classifier: clean only)"
    return (f"multi-condition training: {who} on clean clips + {COPIES} noisy copy of each, noises "
            f"{', '.join(opts.train_noise)} at {opts.train_snr[0]:g}..{opts.train_snr[1]:g} dB (none is a test noise)")
