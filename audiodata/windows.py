"""A recording of any length as the clips a model sees: windows of a clip's length (4 s) at a hop, read from the
file block by block, so that memory stays bounded by a window and a block whatever the recording's length."""
from __future__ import annotations

from typing import Iterator

import numpy as np
import soundfile
import soxr

from .config import FEATURES
from .features import features_from_waveform
from .io import SOUNDFILE_ERRORS, AudioReadError, unreadable

BLOCK_FRAMES = 65536  # frames read at a time (1.5 s at 44.1 kHz)


def window_starts(n_samples: int, window: int, hop: int) -> list[int]:
    """First samples of the windows over ``n_samples``: 0, hop, 2 hop, ... while a window fits, then one window
    ending at the last sample if those leave the end unseen. A recording no longer than a window: one window."""
    starts = list(range(0, max(n_samples - window, 0) + 1, hop))
    if n_samples > window and starts[-1] + window < n_samples:
        starts.append(n_samples - window)
    return starts


def hop_samples(hop_seconds: float) -> int:
    return max(1, round(hop_seconds * FEATURES.sample_rate))


def window_count(seconds: float, hop_seconds: float) -> int:
    """How many windows :func:`windows` gives for a recording of ``seconds`` (from :func:`duration`; the count
    of a resampled file can differ by one, for a progress bar)."""
    return len(window_starts(round(seconds * FEATURES.sample_rate), FEATURES.n_samples, hop_samples(hop_seconds)))


def duration(path) -> float:
    """Seconds of audio in ``path`` (from its header); AudioReadError when soundfile cannot read it."""
    try:
        info = soundfile.info(str(path))
    except SOUNDFILE_ERRORS as e:
        raise unreadable(path, e) from None
    return info.frames / info.samplerate


def windows(path, hop_seconds: float, cfg=None) -> Iterator[tuple[float, float, np.ndarray]]:
    """(start s, end s, features) of each window of ``path`` (mono, at ``FEATURES.sample_rate``), in order;
    ``cfg``: the feature reading, as in :func:`~audiodata.features.features_from_waveform`.

    A file no longer than a clip gives one window: the zero-padded clip of ``features_from_file`` (the paper's
    protocol). A longer one gives full windows at :func:`window_starts`, each one ``features_from_waveform`` of
    that stretch of the whole file's resampled waveform (soxr's stream resampler gives the samples that resampling
    the whole file at once gives), without ever holding the whole file.

    Raises :class:`AudioReadError` for an unreadable, empty or non-finite file (for a non-finite block, after the
    windows before it were given).
    """
    rate, window, hop = FEATURES.sample_rate, FEATURES.n_samples, hop_samples(hop_seconds)
    buffer, first = np.empty(0, np.float32), 0  # the waveform from sample ``first`` on
    next_start, seen_to = 0, 0  # the next regular window's first sample; the end of the last window given
    for samples in _waveform_blocks(path, rate):
        buffer = np.concatenate([buffer, samples])
        while next_start + window <= first + len(buffer):
            at = next_start - first
            yield next_start / rate, (next_start + window) / rate, features_from_waveform(
                buffer[at:at + window], rate, cfg)
            seen_to, next_start = next_start + window, next_start + hop
        keep = max(first, min(next_start, first + len(buffer) - window))  # the next window, or the last one
        buffer, first = buffer[keep - first:], keep
    end = first + len(buffer)
    if end == 0:
        raise AudioReadError(path, "empty (zero samples)")
    if seen_to == 0:  # shorter than a window: the clip zero padded to it, as in the paper
        yield 0.0, end / rate, features_from_waveform(buffer, rate, cfg)
    elif seen_to < end:  # the end not covered by the regular windows
        yield (end - window) / rate, end / rate, features_from_waveform(buffer[-window:], rate, cfg)


def _waveform_blocks(path, rate: int) -> Iterator[np.ndarray]:
    """The file's mono waveform at ``rate``, block after block (the channels averaged, as ``read_audio`` does)."""
    try:
        f = soundfile.SoundFile(str(path))
    except SOUNDFILE_ERRORS as e:
        raise unreadable(path, e) from None
    with f:
        stream = None if f.samplerate == rate else soxr.ResampleStream(f.samplerate, rate, 1, dtype="float32",
                                                                       quality="HQ")
        for block in f.blocks(BLOCK_FRAMES, dtype="float32", always_2d=True):
            if not np.all(np.isfinite(block)):
                raise AudioReadError(path, "contains NaN or infinite samples")
            mono = block.mean(axis=1)
            yield mono if stream is None else stream.resample_chunk(mono, last=False)
        if stream is not None:
            yield stream.resample_chunk(np.empty(0, np.float32), last=True)
