"""Reading audio files of any common encoding as mono float32 at the target rate."""
import numpy as np
import soundfile
import soxr


class AudioReadError(Exception):
    """An audio file that cannot be used; ``reason`` says why (for the skip report)."""

    def __init__(self, path, reason):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


SOUNDFILE_ERRORS = (RuntimeError, OSError, ValueError, TypeError)  # soundfile.LibsndfileError is a RuntimeError


def unreadable(path, error: Exception) -> AudioReadError:
    """The AudioReadError for a file that soundfile cannot open: the first line of its reason."""
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return AudioReadError(path, f"unreadable ({reason})")


def resample(wave, orig_sr, target_sr):
    """High-quality (soxr HQ) resampling of a 1-D float waveform; no-op at equal rates."""
    if orig_sr == target_sr:
        return np.asarray(wave, dtype=np.float32)
    out = soxr.resample(np.asarray(wave, dtype=np.float32), orig_sr, target_sr, quality="HQ")
    return out.astype(np.float32, copy=False)


def read_audio(path, sample_rate):
    """Read ``path`` with soundfile (8-bit unsigned, 16/24/32-bit int, float; any channel count),
    average the channels, resample to ``sample_rate``. Returns a 1-D float32 array.

    Raises :class:`AudioReadError` for unreadable, empty or non-finite files.
    """
    try:
        data, file_sr = soundfile.read(str(path), dtype="float32", always_2d=True)
    except SOUNDFILE_ERRORS as e:
        raise unreadable(path, e) from None
    if data.shape[0] == 0:
        raise AudioReadError(path, "empty (zero samples)")
    if not np.all(np.isfinite(data)):
        raise AudioReadError(path, "contains NaN or infinite samples")
    mono = data.mean(axis=1)
    return resample(mono, file_sr, sample_rate)
