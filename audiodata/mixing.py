"""Mixing noise into a clip at a target SNR, with seeded, split-separated noise segments."""
import math

import numpy as np

NOISE_PARTS = ("train", "test")


def check_snr(snr_db):
    """The SNR as a float; ValueError unless it is a finite number."""
    try:
        value = float(snr_db)
    except (TypeError, ValueError):
        raise ValueError(f"snr_db: expected a finite number of dB, got {snr_db!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"snr_db: expected a finite number of dB, got {snr_db!r}")
    return value


def _pool(n_recording, part):
    """(first sample, length) of the half of a recording that ``part`` draws from."""
    if part not in NOISE_PARTS:
        raise ValueError(f"part: expected one of {NOISE_PARTS}, got {part!r}")
    half = n_recording // 2
    if half == 0:
        raise ValueError(f"noise recording: expected at least 2 samples, got {n_recording}")
    return (0 if part == "train" else half), half


def segment_offset(n_recording, n, rng, part="test"):
    """Where (sample index into the whole recording) the ``n``-sample segment drawn with ``rng`` starts;
    see :func:`noise_segment`."""
    begin, half = _pool(n_recording, part)
    return begin + int(rng.integers(0, half - n + 1) if half >= n else rng.integers(0, half))


def segment_at(recording, offset, n, part="test"):
    """The ``n`` samples of ``recording`` from ``offset`` on, wrapping around within ``part``'s half."""
    recording = np.asarray(recording, dtype=np.float32)
    begin, half = _pool(recording.shape[0], part)
    start = int(offset) - begin
    if not 0 <= start < half:
        raise ValueError(f"noise offset: expected {begin} <= offset < {begin + half} (the {part} half of a "
                         f"{recording.shape[0]}-sample recording), got {offset}")
    pool = recording[begin:begin + half]
    if start + n <= half:
        return pool[start:start + n]
    return np.take(pool, np.arange(start, start + n), mode="wrap")


def noise_segment(recording, n, rng, part="test"):
    """``n`` samples of a noise recording from a random offset drawn with ``rng``.

    The recording is split in two halves: ``part="train"`` draws only from the first, ``"test"``
    only from the second, so a recording used for both never gives the same samples to both.
    A half shorter than ``n`` is repeated (wrapped around) to fill the clip.
    """
    recording = np.asarray(recording, dtype=np.float32)
    return segment_at(recording, segment_offset(recording.shape[0], n, rng, part), n, part)


def mix_at_snr(clean, noise, snr_db):
    """``clean + g * noise`` with g chosen so that the SNR over the clip's samples is ``snr_db``.

    ``clean`` is the clip's original (unpadded) waveform; ``noise`` has the same length. A silent
    clip gets no noise (its SNR is undefined). Returns float32.
    """
    snr_db = check_snr(snr_db)
    clean = np.asarray(clean, dtype=np.float64)
    noise = np.asarray(noise, dtype=np.float64)
    if clean.shape != noise.shape:
        raise ValueError(f"noise: expected the clip's shape {clean.shape}, got {noise.shape}")
    p_clean = np.mean(clean ** 2)
    p_noise = np.mean(noise ** 2)
    if p_noise == 0:
        raise ValueError("noise: the noise segment is all zeros, no SNR can be set")
    gain = math.sqrt(p_clean / (p_noise * 10.0 ** (snr_db / 10.0)))
    return (clean + gain * noise).astype(np.float32)


def measured_snr(clean, mixture):
    """SNR in dB of ``mixture`` relative to ``clean`` (the noise is their difference); NaN for a silent
    clip (no noise is added to it, the SNR is undefined), +inf when nothing was added to a non-silent one."""
    clean = np.asarray(clean, dtype=np.float64)
    noise = np.asarray(mixture, dtype=np.float64) - clean
    p_clean, p_noise = float(np.sum(clean ** 2)), float(np.sum(noise ** 2))
    if p_clean == 0:
        return math.nan
    if p_noise == 0:
        return math.inf
    return 10.0 * math.log10(p_clean / p_noise)
