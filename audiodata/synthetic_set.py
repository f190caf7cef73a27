"""The built-in synthetic urban-sound set as a data source: ten UrbanSound8K-named classes, ten folds, seeded.

The other data source is :mod:`audiodata.urbansound8k`. Each clip's waveform comes from the generators of
:mod:`audiodata.synthetic` (through :meth:`audiodata.clips.Clip.waveform`).
"""
from .clips import Clip
from .config import ALL_FOLDS, CLASS_NAMES

DEFAULT_CLIPS_PER_CLASS = 20  # per class per fold: 2000 clips (1600 train, 200 dev, 200 test)


def synthetic_clips(seed=0, clips_per_class=None):
    """The clip list: ``clips_per_class`` clips of each class in each of the ten folds."""
    n = DEFAULT_CLIPS_PER_CLASS if clips_per_class is None else int(clips_per_class)
    if n < 1:
        raise ValueError(f"clips_per_class: expected a positive integer, got {clips_per_class!r}")
    return [Clip(name=f"synth-{seed}-fold{fold}-{CLASS_NAMES[label]}-{i:04d}", fold=fold, label=label,
                 seed=(int(seed), fold, label, i))
            for fold in ALL_FOLDS for label in range(len(CLASS_NAMES)) for i in range(n)]
