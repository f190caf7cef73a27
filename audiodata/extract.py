"""Feature extraction over many clips in worker processes, with a progress bar.

Clean features: one (n_mels, n_frames) array per clip. Noisy features: for one noise recording,
each clip mixed at each of several SNRs with the same seeded noise segment.
"""
import multiprocessing
import zlib
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from tqdm.auto import tqdm

from .config import FEATURES
from .features import features_from_waveform
from .io import AudioReadError
from .mixing import mix_at_snr, noise_segment

_NOISE = {}  # per worker: the noise recording and mixing settings of a noisy extraction


def clean_features(clip):
    """(features, None) or (None, reason) for a clip that cannot be read."""
    try:
        wave = clip.waveform(FEATURES.sample_rate)
    except AudioReadError as e:
        return None, e.reason
    return features_from_waveform(wave, FEATURES.sample_rate), None


def noise_rng(seed, noise_name, clip_index):
    """The generator of a clip's noise offset: the same for every SNR, different per noise/clip."""
    return np.random.default_rng([int(seed), zlib.crc32(noise_name.encode()), int(clip_index)])


def _set_noise(recording, name, snrs, seed, part):
    _NOISE.update(recording=recording, name=name, snrs=tuple(snrs), seed=seed, part=part)


def noisy_features(indexed_clip):
    """(features (len(snrs), n_mels, n_frames), None) or (None, reason)."""
    index, clip = indexed_clip
    try:
        wave = clip.waveform(FEATURES.sample_rate)
    except AudioReadError as e:
        return None, e.reason
    seg = noise_segment(_NOISE["recording"], wave.shape[0], noise_rng(_NOISE["seed"], _NOISE["name"], index),
                        _NOISE["part"])
    return np.stack([features_from_waveform(mix_at_snr(wave, seg, snr), FEATURES.sample_rate)
                     for snr in _NOISE["snrs"]]), None


def run(fn, items, *, workers=2, progress=True, desc="features", initializer=None, initargs=()):
    """``[fn(item) for item in items]`` in ``workers`` processes (in this process when <= 1),
    in order, with a tqdm bar."""
    items = list(items)
    bar = tqdm(total=len(items), desc=desc, unit="clip", disable=not progress, leave=False)
    try:
        if workers <= 1 or len(items) < 2:
            if initializer is not None:
                initializer(*initargs)
            results = []
            for item in items:
                results.append(fn(item))
                bar.update()
            return results
        # librosa imports its submodules lazily; do it once here so forked workers inherit them
        features_from_waveform(np.ones(FEATURES.n_fft, np.float32), FEATURES.sample_rate)
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        chunk = max(1, min(16, len(items) // (workers * 8)))
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=initializer,
                                 initargs=initargs) as pool:
            results = []
            for r in pool.map(fn, items, chunksize=chunk):
                results.append(r)
                bar.update()
            return results
    finally:
        bar.close()


def extract_clean(clips, *, workers=2, progress=True):
    return run(clean_features, clips, workers=workers, progress=progress, desc="clean features")


def extract_noisy(clips, recording, name, snrs, seed, *, part="test", workers=2, progress=True):
    return run(noisy_features, list(enumerate(clips)), workers=workers, progress=progress,
               desc=f"{name} mixtures", initializer=_set_noise, initargs=(recording, name, snrs, seed, part))
