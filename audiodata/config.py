"""The data protocol's constants, in one place (paper section 4).

Every feature parameter lives in :class:`FeatureConfig`; the rest of the package reads them from
:data:`FEATURES`, and the cache key hashes them, so changing one here re-extracts everything.
"""
from dataclasses import asdict, dataclass

from .noisex import PAPER_NOISES

CLASS_NAMES = (
    "air_conditioner", "car_horn", "children_playing", "dog_bark", "drilling",
    "engine_idling", "gun_shot", "jackhammer", "siren", "street_music",
)
NOISE_TYPES = PAPER_NOISES  # the paper's seven (the name the package had before noise folders of any names)
SNRS_DB = (20, 15, 10, 5, 0)

TRAIN_FOLDS = (1, 2, 3, 4, 5, 6, 7, 8)
DEV_FOLDS = (9,)
TEST_FOLDS = (10,)
ALL_FOLDS = TRAIN_FOLDS + DEV_FOLDS + TEST_FOLDS


@dataclass(frozen=True)
class FeatureConfig:
    """One reading of the paper's Mel features (``audiodata.readings`` names them).

    Framing: the clip is zero padded or cut to ``n_samples`` (4 s at 16 kHz); frames are taken
    *uncentered* (no padding at the ends), which gives ``1 + (64000 - 512) // 256 = 249`` frames;
    the last one is dropped to obtain the paper's 248. The 248 frames cover samples 0..63743, so the
    last 256 samples (16 ms) of the 4 s segment are not seen. Magnitude STFT (``|STFT|``, power 1)
    through a 40-band librosa (Slaney) Mel filterbank from ``fmin`` to ``fmax``; then
    ``20*log10`` compression relative to the clip's maximum, floored ``top_db`` below it (this keeps
    the zero padding from dominating the range), then per-clip min-max normalization to [0, 1].
    A clip that is silent everywhere gives all zeros.

    ``compression``: ``"log"`` (the dB step above; the log-Mel reading) or ``"none"`` (the paper's words:
    the filterbank output itself, min-max normalized per clip; ``amin`` and ``top_db`` are then unused).
    ``power``: 1 for the magnitude |STFT|, 2 for the power |STFT|^2.
    """

    sample_rate: int = 16000
    n_samples: int = 64000
    n_fft: int = 512
    hop_length: int = 256
    window: str = "hamming"
    n_mels: int = 40
    n_frames: int = 248
    fmin: float = 0.0
    fmax: float = 8000.0
    center: bool = False
    power: float = 1.0
    amin: float = 1e-5
    top_db: float = 80.0
    compression: str = "log"

    def as_dict(self):
        """The parameters (hashed into the cache key). ``compression`` is left out when it is ``"log"``, so the
        log-Mel reading keeps the cache key it had before there were other readings."""
        d = asdict(self)
        if d["compression"] == "log":
            del d["compression"]
        return d


FEATURES = FeatureConfig()
