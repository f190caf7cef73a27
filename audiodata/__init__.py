"""Audio data for the dyconv experiments: the paper's protocol (section 4).

UrbanSound8K (or a built-in synthetic urban-sound set) as 40x248 log-Mel features, folds 1-8 /
9 / 10 for train / dev / test, and the test set mixed with seven noise types at five SNRs.
"""
from .config import CLASS_NAMES, FEATURES, NOISE_TYPES, SNRS_DB, FeatureConfig
from .datasets import FeatureDataset, make_loader
from .features import features_from_file, features_from_waveform
from .io import AudioReadError, read_audio
from .mixing import mix_at_snr, noise_segment
from .noise import NoiseBank
from .splits import Splits, load_splits

__all__ = [
    "CLASS_NAMES", "FEATURES", "NOISE_TYPES", "SNRS_DB", "FeatureConfig", "FeatureDataset", "make_loader",
    "features_from_file", "features_from_waveform", "AudioReadError", "read_audio", "mix_at_snr",
    "noise_segment", "NoiseBank", "Splits", "load_splits",
]
