"""A clip of a dataset (a file on disk or a synthetic seed) and how to get its waveform."""
from dataclasses import dataclass
from typing import Optional, Tuple

from .config import FEATURES
from .io import AudioReadError, read_audio
from .synthetic import generate_clip

MIN_DURATION_RATIO = 0.5
"""A file that decodes to less than this fraction of its metadata duration is truncated (skipped). Decoding
and resampling change a length by milliseconds, so a genuine clip is never near it; a broken download that
lost more than half of the clip (the first 100 bytes of a WAV decode to ~30 samples) always is."""


@dataclass(frozen=True)
class Clip:
    name: str                          # file name (relative to the audio folder) or synthetic id
    fold: int
    label: int
    path: Optional[str] = None         # audio file, for real data
    seed: Optional[Tuple[int, ...]] = None  # generator seed, for synthetic data
    duration: Optional[float] = None   # seconds the metadata says the file holds (end - start), if known

    def waveform(self, sample_rate=FEATURES.sample_rate):
        """Mono float32 waveform at ``sample_rate`` with the clip's original (unpadded) length.
        Raises io.AudioReadError for a file that cannot be used, including a truncated one (shorter than
        MIN_DURATION_RATIO of ``duration``)."""
        if self.path is not None:
            wave = read_audio(self.path, sample_rate)
            if self.duration is not None and wave.shape[0] < MIN_DURATION_RATIO * self.duration * sample_rate:
                got = wave.shape[0] / sample_rate
                raise AudioReadError(self.path, f"truncated: decodes to {got:.3f} s ({wave.shape[0]} samples at "
                                                f"{sample_rate} Hz), the metadata says {self.duration:.3f} s "
                                                f"(end - start); re-download it")
            return wave
        return generate_clip(self.label, self.seed, sample_rate)
