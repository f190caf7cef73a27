"""Noise recordings: a folder of real recordings (one file per type, named by its stem) or the
built-in generated stand-ins for the NOISEX-92 types."""
from pathlib import Path

import numpy as np
import soundfile

from . import cache
from .config import FEATURES, NOISE_TYPES
from .io import AudioReadError, read_audio

BUILTIN_SECONDS = 30.0
BUILTIN_SEED = 92  # the built-in "recordings" are fixed, like real ones; offsets into them are seeded
BUILTIN_VERSION = "noise-2"  # bump when a generator in synthetic/noises.py changes
AUDIO_SUFFIXES = {"." + ext.lower() for ext in soundfile.available_formats()} | {".wav", ".flac", ".ogg"}


class NoiseBank:
    """Noise recordings at the feature sample rate, by name.

    ``noise_dir=None`` uses the built-in generators (generated once, then cached on disk).
    """

    def __init__(self, noise_dir=None, cache_dir=None, sample_rate=FEATURES.sample_rate):
        self.sample_rate = sample_rate
        self._cache_dir = cache_dir
        self._loaded = {}
        self.noise_dir = None if noise_dir is None else Path(noise_dir).expanduser()
        if self.noise_dir is None:
            self.files = {}
            self.names = NOISE_TYPES
            return
        if not self.noise_dir.is_dir():
            raise FileNotFoundError(f"noise directory not found: {self.noise_dir}")
        self.files = {p.stem: p for p in sorted(self.noise_dir.iterdir())
                      if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES}
        if not self.files:
            raise ValueError(f"noise directory {self.noise_dir} contains no audio files; expected one "
                             f"file per noise type named by it, e.g. {', '.join(t + '.wav' for t in NOISE_TYPES)}")
        self.names = tuple(self.files)

    def describe(self):
        return "built-in noises" if self.noise_dir is None else f"noises from {self.noise_dir}"

    def check(self, name):
        if name not in self.names:
            raise ValueError(f"noise: expected one of {', '.join(self.names)} ({self.describe()}), got {name!r}")
        return name

    def fingerprint(self, name):
        """Identifies the recording's content (for cache keys)."""
        self.check(name)
        if self.noise_dir is None:
            return cache.digest([BUILTIN_VERSION, BUILTIN_SEED, BUILTIN_SECONDS, name, self.sample_rate])
        path = self.files[name]
        return cache.digest([str(path.resolve()), path.stat().st_size, path.stat().st_mtime_ns, self.sample_rate])

    def recording(self, name):
        """The whole recording, mono float32 at ``sample_rate``."""
        self.check(name)
        if name not in self._loaded:
            self._loaded[name] = self._builtin(name) if self.noise_dir is None else self._read(name)
        return self._loaded[name]

    def _read(self, name):
        try:
            wave = read_audio(self.files[name], self.sample_rate)
        except AudioReadError as e:
            raise ValueError(f"noise recording {e.path} cannot be used: {e.reason}") from None
        if not np.any(wave):
            raise ValueError(f"noise recording {self.files[name]} is silent (all zeros)")
        return wave

    def _builtin(self, name):
        path = cache.cache_root(self._cache_dir) / "noises" / f"{self.fingerprint(name)}-{name}.npy"
        if path.is_file():
            return np.load(path)
        from .synthetic.noises import BUILTIN_NOISES
        rng = np.random.default_rng([BUILTIN_SEED, NOISE_TYPES.index(name)])
        n = int(BUILTIN_SECONDS * self.sample_rate)
        wave = (0.1 * BUILTIN_NOISES[name](rng, n, self.sample_rate)).astype(np.float32)
        cache.save_npy(path, wave)
        return wave
