"""The paper's 40x248 min-max normalized log-Mel features (parameters in config.FeatureConfig)."""
from functools import lru_cache

import librosa
import numpy as np

from .config import FEATURES
from .io import read_audio, resample
from .readings import feature_config


@lru_cache(maxsize=4)
def mel_filterbank(cfg=FEATURES):
    return librosa.filters.mel(sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels,
                               fmin=cfg.fmin, fmax=cfg.fmax).astype(np.float32)


def fit_length(wave, n_samples):
    """Zero pad or cut a 1-D waveform to ``n_samples``."""
    wave = np.asarray(wave, dtype=np.float32)
    if wave.shape[0] >= n_samples:
        return wave[:n_samples]
    return np.pad(wave, (0, n_samples - wave.shape[0]))


def features_from_waveform(wave, sample_rate, cfg=None):
    """Features of a 1-D waveform at ``sample_rate`` (resampled if it differs from the config's).

    Returns float32 (n_mels, n_frames) in [0, 1]; see :class:`~audiodata.config.FeatureConfig` (``cfg``: one of
    ``audiodata.readings.FEATURE_READINGS``; None = the default reading, ``audiodata.readings.DEFAULT_FEATURES``).
    """
    cfg = feature_config(None) if cfg is None else cfg
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim != 1:
        raise ValueError(f"waveform: expected a 1-D array, got shape {wave.shape}")
    if sample_rate != cfg.sample_rate:
        wave = resample(wave, sample_rate, cfg.sample_rate)
    wave = fit_length(wave, cfg.n_samples)
    spec = np.abs(librosa.stft(wave, n_fft=cfg.n_fft, hop_length=cfg.hop_length,
                               window=cfg.window, center=cfg.center)) ** cfg.power
    mel = mel_filterbank(cfg) @ spec[:, :cfg.n_frames]
    if not np.any(mel > 0):
        return np.zeros((cfg.n_mels, cfg.n_frames), dtype=np.float32)
    if cfg.compression == "log":
        mel = librosa.amplitude_to_db(mel, ref=np.max, amin=cfg.amin, top_db=cfg.top_db)
    elif cfg.compression != "none":
        raise ValueError(f"compression: expected 'log' or 'none', got {cfg.compression!r}")
    return min_max(mel)


def min_max(x):
    """``x`` scaled to [0, 1] by its own minimum and maximum, as float32 (all zeros when it is constant)."""
    x = np.asarray(x)
    lo, hi = x.min(), x.max()
    if hi - lo <= 0:
        return np.zeros_like(x, dtype=np.float32)
    return ((x - lo) / (hi - lo)).astype(np.float32)


def features_from_file(path, cfg=None):
    """Features of one audio file (any encoding soundfile reads, any rate, mono or multichannel); ``cfg`` as in
    :func:`features_from_waveform`."""
    return features_from_waveform(read_audio(path, FEATURES.sample_rate), FEATURES.sample_rate, cfg)
