"""Noise recordings: a folder of real recordings (every audio or MATLAB .mat file in it, named by its
file stem, lower-cased) or the built-in generated stand-ins for the paper's seven NOISEX-92 types."""
import hashlib
from pathlib import Path

import numpy as np
import soundfile

from . import cache, noisex
from .config import FEATURES, NOISE_TYPES
from .io import AudioReadError, read_audio
from .matlab import read_mat_audio

BUILTIN_SECONDS = 30.0
BUILTIN_SEED = 92  # the built-in "recordings" are fixed, like real ones; offsets into them are seeded
BUILTIN_VERSION = "noise-2"  # bump when a generator in synthetic/noises.py changes
AUDIO_SUFFIXES = ({"." + ext.lower() for ext in soundfile.available_formats()}
                  | {".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff"}) - {".raw"}
MAT_SUFFIX = ".mat"


def noise_files(noise_dir):
    """{name: path} of the noise recordings in a folder: every file with an audio suffix or ``.mat`` (any
    case), named by its stem lower-cased. Other files (README.txt, ...) and hidden ones (.DS_Store,
    ._babble.wav) are ignored. Two files with the same name are a ValueError naming both."""
    files = {}
    for path in sorted(noise_dir.iterdir(), key=lambda p: (p.name.lower(), p.name)):
        suffix = path.suffix.lower()
        if path.name.startswith(".") or not path.is_file() or suffix not in AUDIO_SUFFIXES | {MAT_SUFFIX}:
            continue
        name = path.stem.lower()
        if name in files:
            raise ValueError(f"noise directory {noise_dir}: {files[name].name} and {path.name} both give the noise "
                             f"name {name!r}; keep one of them")
        files[name] = path
    return files


class NoiseBank:
    """Noise recordings at the feature sample rate, by name (lower-case).

    ``noise_dir=None`` uses the built-in generators (generated once, then cached on disk), named like the
    paper's seven types. A folder gives every recording in it (see :func:`noise_files`); WAV/FLAC/... are
    read with soundfile, MATLAB .mat files with :func:`~audiodata.matlab.read_mat_audio` (NOISEX-92's
    19.98 kHz unless the file holds its rate); all are resampled with soxr. A recording that cannot be used
    is a ValueError naming the file and why, raised when it is first read.
    """

    def __init__(self, noise_dir=None, cache_dir=None, sample_rate=FEATURES.sample_rate):
        self.sample_rate = sample_rate
        self._cache_dir = cache_dir
        self._loaded = {}
        self._fingerprints = {}
        self.noise_dir = None if noise_dir is None else Path(noise_dir).expanduser()
        if self.noise_dir is None:
            self.files = {}
            self.names = NOISE_TYPES
            return
        if not self.noise_dir.is_dir():
            raise FileNotFoundError(f"noise directory not found: {self.noise_dir}")
        self.files = noise_files(self.noise_dir)
        if not self.files:
            raise ValueError(f"noise directory {self.noise_dir} contains no audio files; expected one audio or "
                             f"MATLAB .mat file per noise, named by it, e.g. "
                             f"{', '.join(t + '.wav' for t in NOISE_TYPES[:3])} (NOISEX-92's babble.mat, ... work)")
        self.names = tuple(self.files)

    def describe(self):
        return "built-in noises" if self.noise_dir is None else f"noises from {self.noise_dir}"

    def check(self, name):
        """The canonical (lower-case) name; ValueError listing the names that exist otherwise."""
        canonical = str(name).lower()
        if canonical not in self.names:
            raise ValueError(f"noise: expected one of {', '.join(self.names)} ({self.describe()}), got {name!r}")
        return canonical

    def select(self, noises=None):
        """The noise names to use, in use order: all of them for ``None`` (the paper's seven for the built-in
        noises), else the given names (a sequence, or one comma-separated string), case-insensitive. The item
        ``"paper"`` stands for the paper's seven (see :func:`audiodata.noisex.resolve_paper_noises`) unless a
        recording is named so. Unknown or repeated names are a ValueError listing what exists."""
        if noises is None:
            return tuple(self.names)
        items = noises.split(",") if isinstance(noises, str) else list(noises)
        chosen = []
        for item in items:
            item = str(item).strip()
            if item.lower() == "paper" and "paper" not in self.names:
                chosen += noisex.resolve_paper_noises(self.names)
            elif item:
                chosen.append(self.check(item))
        if not chosen:
            raise ValueError(f"noises: expected at least one of {', '.join(self.names)} ({self.describe()}), "
                             f"got {noises!r}")
        repeated = sorted({n for n in chosen if chosen.count(n) > 1})
        if repeated:
            raise ValueError(f"noises: each noise once, got {', '.join(repeated)} more than once in {noises!r}")
        return tuple(chosen)

    def source(self, name):
        """Where a recording comes from: its file name, or ``built-in``."""
        name = self.check(name)
        return "built-in" if self.noise_dir is None else self.files[name].name

    def fingerprint(self, name):
        """Identifies the recording's content (for cache keys and the mixing manifest): for a file, a hash
        of its bytes, so a copy elsewhere has the same fingerprint."""
        name = self.check(name)
        if self.noise_dir is None:
            return cache.digest([BUILTIN_VERSION, BUILTIN_SEED, BUILTIN_SECONDS, name, self.sample_rate])
        if name not in self._fingerprints:
            sha = hashlib.sha256()
            with open(self.files[name], "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    sha.update(block)
            self._fingerprints[name] = cache.digest([sha.hexdigest(), self.sample_rate])
        return self._fingerprints[name]

    def validate(self, names):
        """Read the named recordings now, so that one that cannot be used is an error before any long work
        (a no-op for the built-in noises, which are generated when first needed)."""
        if self.noise_dir is not None:
            for name in names:
                self.recording(name)

    def recording(self, name):
        """The whole recording, mono float32 at ``sample_rate``."""
        name = self.check(name)
        if name not in self._loaded:
            self._loaded[name] = self._builtin(name) if self.noise_dir is None else self._read(name)
        return self._loaded[name]

    def _read(self, name):
        path = self.files[name]
        try:
            if path.suffix.lower() == MAT_SUFFIX:
                wave = read_mat_audio(path, self.sample_rate, noisex.SAMPLE_RATE)
            else:
                wave = read_audio(path, self.sample_rate)
        except AudioReadError as e:
            raise ValueError(f"noise recording {e.path} cannot be used: {e.reason}") from None
        if not np.any(wave):
            raise ValueError(f"noise recording {path} cannot be used: it is silent (all zeros)")
        if wave.shape[0] < 2:
            raise ValueError(f"noise recording {path} cannot be used: {wave.shape[0]} sample(s) at "
                             f"{self.sample_rate} Hz, expected at least 2")
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
