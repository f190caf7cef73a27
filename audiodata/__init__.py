"""Audio data for the dyconv experiments: the paper's protocol (section 4).

UrbanSound8K (or a built-in synthetic urban-sound set) as 40x248 Mel features (a reading: audiodata.readings), split into train /
dev / test folds (the paper's 1-8 / 9 / 10, or any test fold for 10-fold cross-validation), and the test
fold mixed with noise recordings (the paper's seven NOISEX-92 types, or any folder of recordings) at five SNRs.
"""
from . import noisex
from .config import CLASS_NAMES, FEATURES, NOISE_TYPES, SNRS_DB, FeatureConfig
from .datasets import FeatureDataset, make_loader
from .features import features_from_file, features_from_waveform
from .folds import fold_split
from .io import AudioReadError, read_audio
from .manifest import FIELDS as MIXTURE_FIELDS
from .manifest import rebuild_noisy
from .mixing import mix_at_snr, noise_segment
from .noise import NoiseBank
from .noisex import PAPER_NOISES, resolve_paper_noises
from .readings import FEATURE_READINGS, SNR_REFERENCES, feature_config, feature_reading
from .splits import Splits, load_splits

__all__ = [
    "CLASS_NAMES", "FEATURES", "NOISE_TYPES", "PAPER_NOISES", "SNRS_DB", "FeatureConfig", "FeatureDataset",
    "make_loader", "features_from_file", "features_from_waveform", "fold_split", "AudioReadError", "read_audio",
    "MIXTURE_FIELDS", "rebuild_noisy", "mix_at_snr", "noise_segment", "NoiseBank", "noisex",
    "resolve_paper_noises", "Splits", "load_splits", "FEATURE_READINGS", "SNR_REFERENCES", "feature_config",
    "feature_reading",
]
