"""Multi-condition training data: the training clips mixed with generic noises that are not test noises.

Each training clip gets ``copies`` noisy versions, each with one noise drawn from the given names, an SNR
drawn uniformly from ``snr_range`` and a segment from the first half of the recording
(``noise_segment(..., part="train")``), all from a generator seeded by (seed, clip, copy): the set is
deterministic, extracted once and cached next to the clean features. The noises are the built-in
generators of :mod:`audiodata.synthetic.train_noises`; none of them is one of the seven test types.
"""
import numpy as np

from . import cache, extract
from .config import FEATURES, NOISE_TYPES
from .datasets import FeatureDataset
from .features import features_from_waveform
from .io import AudioReadError
from .extract import reference_wave
from .mixing import check_snr, mix_at_snr, noise_segment
from .synthetic.train_noises import TRAIN_NOISES

TRAIN_NOISE_TYPES = tuple(TRAIN_NOISES)
TRAIN_NOISE_SECONDS = 30.0
TRAIN_NOISE_SEED = 1992
TRAIN_NOISE_VERSION = "train-noise-1"  # bump when a generator in synthetic/train_noises.py changes
DEFAULT_SNR_RANGE = (0.0, 20.0)
_MIX = {}  # per worker: recordings and settings


def check_train_noises(names, test_noises=NOISE_TYPES):
    """The names as a tuple; ValueError for a test noise (the point is robustness to unseen noise), an unknown
    name or an empty list."""
    names = tuple(names)
    if not names:
        raise ValueError(f"training noises: expected at least one of {', '.join(TRAIN_NOISE_TYPES)}")
    for name in names:
        if name in test_noises:
            raise ValueError(f"training noise {name!r} is one of the test noises ({', '.join(test_noises)}); "
                             f"training on it would not test robustness to unseen noise. Choose from "
                             f"{', '.join(TRAIN_NOISE_TYPES)}")
        if name not in TRAIN_NOISES:
            raise ValueError(f"training noise: expected names from {', '.join(TRAIN_NOISE_TYPES)}, got {name!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"training noises: a name is repeated in {', '.join(names)}")
    return names


def check_snr_range(snr_range):
    low, high = (check_snr(v) for v in snr_range)
    if low > high:
        raise ValueError(f"training SNR range: expected LOW <= HIGH, got {low:g},{high:g}")
    return low, high


def train_noise_recording(name, cache_dir=None, sample_rate=FEATURES.sample_rate):
    """The built-in training noise ``name``: TRAIN_NOISE_SECONDS of mono float32, generated once and cached."""
    check_train_noises([name])
    key = cache.digest([TRAIN_NOISE_VERSION, TRAIN_NOISE_SEED, TRAIN_NOISE_SECONDS, name, sample_rate])
    path = cache.cache_root(cache_dir) / "noises" / f"{key}-{name}.npy"
    if path.is_file():
        return np.load(path)
    rng = np.random.default_rng([TRAIN_NOISE_SEED, TRAIN_NOISE_TYPES.index(name)])
    wave = (0.1 * TRAIN_NOISES[name](rng, int(TRAIN_NOISE_SECONDS * sample_rate), sample_rate)).astype(np.float32)
    cache.save_npy(path, wave)
    return wave


def mixture_plan(seed, clip_index, copy, names, snr_range):
    """(noise name, SNR in dB, generator for the segment offset) of one noisy copy of one clip."""
    rng = np.random.default_rng([int(seed), 7919, int(clip_index), int(copy)])
    name = names[int(rng.integers(len(names)))]
    return name, float(rng.uniform(*snr_range)), rng


def _set_mix(recordings, names, snr_range, seed, copies, cfg=None, reference="clip"):
    _MIX.update(recordings=recordings, names=names, snr_range=snr_range, seed=seed, copies=copies, cfg=cfg,
                reference=reference)


def _noisy_copies(indexed_clip):
    index, clip = indexed_clip
    try:
        wave = clip.waveform(FEATURES.sample_rate)
    except AudioReadError as e:
        return None, e.reason
    wave = reference_wave(wave, _MIX["reference"])
    out = np.empty((_MIX["copies"], FEATURES.n_mels, FEATURES.n_frames), np.float32)
    for k in range(_MIX["copies"]):
        name, snr, rng = mixture_plan(_MIX["seed"], index, k, _MIX["names"], _MIX["snr_range"])
        seg = noise_segment(_MIX["recordings"][name], wave.shape[0], rng, part="train")
        out[k] = features_from_waveform(mix_at_snr(wave, seg, snr), FEATURES.sample_rate, _MIX["cfg"])
    return out, None


def noisy_train_set(splits, names, snr_range=DEFAULT_SNR_RANGE, copies=1, *, cache_dir=None, workers=2,
                    progress=True):
    """``copies`` noisy versions of every training clip of ``splits`` (a FeatureDataset of
    ``copies * len(splits.train)`` items, copy-major, the training labels repeated), in the split's feature reading
    and mixed with its SNR reference; cached."""
    names, snr_range = check_train_noises(names, splits.noises.names), check_snr_range(snr_range)
    reference = ([] if splits.snr_reference == "clip" else [splits.snr_reference])  # clip: the key it always had
    key = cache.digest([TRAIN_NOISE_VERSION, sorted(names), snr_range, int(copies), splits.fingerprint] + reference)
    path = splits.cache_folder / "noisy-train" / f"{key}.npy"
    labels = np.tile(splits.train.labels.numpy(), copies)
    if path.is_file():
        return FeatureDataset(np.load(path), labels)
    clips = splits.train_clips
    if len(clips) != len(splits.train):
        raise RuntimeError(f"training clips changed since their features were cached; delete "
                           f"{splits.cache_folder} and rerun")
    recordings = {n: train_noise_recording(n, cache_dir) for n in names}
    feats = np.empty((copies, len(clips), FEATURES.n_mels, FEATURES.n_frames), np.float32)
    results = extract.run(_noisy_copies, list(enumerate(clips)), workers=workers, progress=progress,
                          desc=f"noisy training copies ({', '.join(names)})", initializer=_set_mix,
                          initargs=(recordings, names, snr_range, int(splits.fingerprint[:12], 16), copies,
                                    splits.feature_config, splits.snr_reference))
    for i, (clip, (f, reason)) in enumerate(zip(clips, results)):
        if reason is not None:
            raise RuntimeError(f"training clip {clip.name} became unreadable since its features were cached "
                               f"({reason}); delete {splits.cache_folder} and rerun")
        feats[:, i] = f
    feats = feats.reshape(-1, FEATURES.n_mels, FEATURES.n_frames)
    cache.save_npy(path, feats)
    return FeatureDataset(feats, labels)
