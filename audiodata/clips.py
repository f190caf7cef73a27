"""A clip of a dataset (a file on disk or a synthetic seed) and how to get its waveform."""
from dataclasses import dataclass
from typing import Optional, Tuple

from .config import FEATURES
from .io import read_audio


@dataclass(frozen=True)
class Clip:
    name: str                          # file name (relative to the audio folder) or synthetic id
    fold: int
    label: int
    path: Optional[str] = None         # audio file, for real data
    seed: Optional[Tuple[int, ...]] = None  # generator seed, for synthetic data

    def waveform(self, sample_rate=FEATURES.sample_rate):
        """Mono float32 waveform at ``sample_rate`` with the clip's original (unpadded) length.
        Raises io.AudioReadError for a file that cannot be used."""
        if self.path is not None:
            return read_audio(self.path, sample_rate)
        from .synthetic import generate_clip
        return generate_clip(self.label, self.seed, sample_rate)
