"""Feature extraction over many clips in worker processes, with a progress bar.

Clean features: one (n_mels, n_frames) array per clip. Noisy features: each clip mixed with each
noise recording at each of several SNRs (one waveform read or generation per clip for all of them).
"""
import functools
import multiprocessing
import zlib
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from threadpoolctl import threadpool_limits

from .config import FEATURES
from .features import features_from_waveform, fit_length
from .io import AudioReadError
from .mixing import measured_snr, mix_at_snr, segment_at, segment_offset
from .progress import bar as progress_bar

_NOISE = {}  # per worker: the noise recordings and mixing settings of a noisy extraction


def clean_features(clip, cfg=None):
    """(features, None) or (None, reason) for a clip that cannot be read; ``cfg``: the feature reading (None: the
    default one)."""
    try:
        wave = clip.waveform(FEATURES.sample_rate)
    except AudioReadError as e:
        return None, e.reason
    return features_from_waveform(wave, FEATURES.sample_rate, cfg), None


def noise_rng(seed, noise_name, clip_index):
    """The generator of a clip's noise offset: the same for every SNR, different per noise/clip."""
    return np.random.default_rng([int(seed), zlib.crc32(noise_name.encode()), int(clip_index)])


def _set_noises(recordings, snrs, seed, part, with_features, cfg, reference):
    _NOISE.update(recordings=dict(recordings), snrs=tuple(snrs), seed=seed, part=part, with_features=with_features,
                  cfg=cfg, reference=reference)


class NoisyClip:
    """One clip mixed with each noise at each SNR: ``features`` (n_noises, n_snrs, n_mels, n_frames) or None
    when not asked for, ``offsets`` (n_noises,) where each noise segment starts in its recording,
    ``measured`` (n_noises, n_snrs) the SNR measured after mixing, ``n_samples`` the clip's length;
    ``reason`` is set (and the rest None) for a clip that cannot be read."""

    def __init__(self, features=None, offsets=None, measured=None, n_samples=None, reason=None):
        self.features, self.offsets, self.measured = features, offsets, measured
        self.n_samples, self.reason = n_samples, reason


def reference_wave(wave, reference="clip"):
    """What noise is added to and the SNR measured over: the clip's own samples (``"clip"``), or the clip zero
    padded or cut to the 4 s segment the features see (``"segment"``)."""
    if reference == "segment":
        return fit_length(wave, FEATURES.n_samples)
    if reference != "clip":
        raise ValueError(f"snr_reference: expected 'clip' or 'segment', got {reference!r}")
    return wave


def mix_clip(wave, recording, offset, snr_db, part="test", reference="clip"):
    """The clip mixed with the recording's segment at ``offset`` at ``snr_db``, the SNR measured over
    ``reference`` (see :func:`reference_wave`): (mixture, measured SNR)."""
    wave = reference_wave(wave, reference)
    mixture = mix_at_snr(wave, segment_at(recording, offset, wave.shape[0], part), snr_db)
    return mixture, measured_snr(wave, mixture)


def noisy_features(indexed_clip):
    """The clip mixed with each noise at each SNR (a :class:`NoisyClip`); per noise, one seeded segment
    serves all SNRs."""
    index, clip = indexed_clip
    try:
        wave = clip.waveform(FEATURES.sample_rate)
    except AudioReadError as e:
        return NoisyClip(reason=e.reason)
    shape = (len(_NOISE["recordings"]), len(_NOISE["snrs"]))
    out = np.empty(shape + (FEATURES.n_mels, FEATURES.n_frames), np.float32) if _NOISE["with_features"] else None
    offsets, measured = np.empty(shape[0], np.int64), np.empty(shape, np.float64)
    reference, n_mixed = _NOISE["reference"], reference_wave(wave, _NOISE["reference"]).shape[0]
    for i, (name, recording) in enumerate(_NOISE["recordings"].items()):
        rng = noise_rng(_NOISE["seed"], name, index)
        offsets[i] = segment_offset(recording.shape[0], n_mixed, rng, _NOISE["part"])
        for j, snr in enumerate(_NOISE["snrs"]):
            mixture, measured[i, j] = mix_clip(wave, recording, offsets[i], snr, _NOISE["part"], reference)
            if out is not None:
                out[i, j] = features_from_waveform(mixture, FEATURES.sample_rate, _NOISE["cfg"])
    return NoisyClip(out, offsets, measured, wave.shape[0])


def _init_worker(initializer, initargs):
    # one BLAS thread per worker: the Mel matmul is tiny, and idle BLAS threads spinning on a busy
    # machine cost far more than the product itself
    threadpool_limits(1)
    if initializer is not None:
        initializer(*initargs)


def run(fn, items, *, workers=2, progress=True, desc="features", initializer=None, initargs=()):
    """Yield ``fn(item)`` for each item, in order, computed in ``workers`` processes (in this
    process when <= 1), with a progress bar."""
    items = list(items)
    with progress_bar(total=len(items), desc=desc, unit="clip", disable=not progress, leave=False) as bar:
        if workers <= 1 or len(items) < 2:
            with threadpool_limits(1):
                if initializer is not None:
                    initializer(*initargs)
                for item in items:
                    result = fn(item)
                    bar.update()  # before the yield: a consumer that stops at the last item never resumes us
                    yield result
            return
        # librosa imports its submodules lazily; do it once here so forked workers inherit them
        features_from_waveform(np.ones(FEATURES.n_fft, np.float32), FEATURES.sample_rate)
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        chunk = max(1, min(8, len(items) // (workers * 8)))
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                                 initargs=(initializer, initargs)) as pool:
            for r in pool.map(fn, items, chunksize=chunk):
                bar.update()
                yield r


def extract_clean(clips, *, cfg=None, workers=2, progress=True):
    """[(features or None, skip reason or None)] for the clips, features of the reading ``cfg``."""
    return list(run(functools.partial(clean_features, cfg=cfg), clips, workers=workers, progress=progress,
                    desc="clean features"))


def extract_noisy(clips, recordings, snrs, seed, *, part="test", with_features=True, cfg=None, reference="clip",
                  workers=2, progress=True):
    """Iterator over the clips of :class:`NoisyClip` (``recordings``: {name: waveform}); the clip's index in
    ``clips`` and ``seed`` pick its noise offsets. ``with_features=False`` only mixes and measures. ``cfg``: the
    feature reading; ``reference``: the SNR reference (:func:`reference_wave`)."""
    what = "noisy mixtures" if with_features else "mixing manifest"
    return run(noisy_features, list(enumerate(clips)), workers=workers, progress=progress,
               desc=f"{what} ({len(recordings)} noises x {len(snrs)} SNRs)", initializer=_set_noises,
               initargs=(recordings, snrs, seed, part, with_features, cfg, reference))
