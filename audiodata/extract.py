"""Feature extraction over many clips in worker processes, with a progress bar.

Clean features: one (n_mels, n_frames) array per clip. Noisy features: each clip mixed with each
noise recording at each of several SNRs (one waveform read or generation per clip for all of them).
"""
import multiprocessing
import zlib
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from .config import FEATURES
from .features import features_from_waveform
from .io import AudioReadError
from .mixing import mix_at_snr, noise_segment

_NOISE = {}  # per worker: the noise recordings and mixing settings of a noisy extraction


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


def _set_noises(recordings, snrs, seed, part):
    _NOISE.update(recordings=dict(recordings), snrs=tuple(snrs), seed=seed, part=part)


def noisy_features(indexed_clip):
    """(features (n_noises, n_snrs, n_mels, n_frames), None) or (None, reason): the clip mixed with
    each noise at each SNR; per noise, one seeded segment serves all SNRs."""
    index, clip = indexed_clip
    try:
        wave = clip.waveform(FEATURES.sample_rate)
    except AudioReadError as e:
        return None, e.reason
    out = np.empty((len(_NOISE["recordings"]), len(_NOISE["snrs"]), FEATURES.n_mels, FEATURES.n_frames),
                   np.float32)
    for i, (name, recording) in enumerate(_NOISE["recordings"].items()):
        seg = noise_segment(recording, wave.shape[0], noise_rng(_NOISE["seed"], name, index), _NOISE["part"])
        for j, snr in enumerate(_NOISE["snrs"]):
            out[i, j] = features_from_waveform(mix_at_snr(wave, seg, snr), FEATURES.sample_rate)
    return out, None


def _init_worker(initializer, initargs):
    # one BLAS thread per worker: the Mel matmul is tiny, and idle BLAS threads spinning on a busy
    # machine cost far more than the product itself
    threadpool_limits(1)
    if initializer is not None:
        initializer(*initargs)


def run(fn, items, *, workers=2, progress=True, desc="features", initializer=None, initargs=()):
    """Yield ``fn(item)`` for each item, in order, computed in ``workers`` processes (in this
    process when <= 1), with a tqdm bar."""
    items = list(items)
    with tqdm(total=len(items), desc=desc, unit="clip", disable=not progress, leave=False) as bar:
        if workers <= 1 or len(items) < 2:
            with threadpool_limits(1):
                if initializer is not None:
                    initializer(*initargs)
                for item in items:
                    yield fn(item)
                    bar.update()
            return
        # librosa imports its submodules lazily; do it once here so forked workers inherit them
        features_from_waveform(np.ones(FEATURES.n_fft, np.float32), FEATURES.sample_rate)
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        chunk = max(1, min(8, len(items) // (workers * 8)))
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                                 initargs=(initializer, initargs)) as pool:
            for r in pool.map(fn, items, chunksize=chunk):
                yield r
                bar.update()


def extract_clean(clips, *, workers=2, progress=True):
    """[(features or None, skip reason or None)] for the clips."""
    return list(run(clean_features, clips, workers=workers, progress=progress, desc="clean features"))


def extract_noisy(clips, recordings, snrs, seed, *, part="test", workers=2, progress=True):
    """Iterator over the clips of (features (len(recordings), len(snrs), ...) or None, reason)."""
    return run(noisy_features, list(enumerate(clips)), workers=workers, progress=progress,
               desc=f"noisy mixtures ({len(recordings)} noises x {len(snrs)} SNRs)", initializer=_set_noises,
               initargs=(recordings, snrs, seed, part))
