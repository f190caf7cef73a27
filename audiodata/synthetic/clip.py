"""One synthetic urban-sound clip: a class event, room and colour, a background bed, a level.

The difficulty of the task is set by :data:`DIFFICULTY` (calibrated so that the small CNN-FC lands
in the issue's accuracy band; see docs/data.md). Changing a generator or these numbers must bump
:data:`VERSION`, which is part of the feature cache key.
"""
from dataclasses import dataclass

import numpy as np

from ..config import CLASS_NAMES
from . import dsp
from .alarms import car_horn, siren
from .impacts import gun_shot
from .machines import air_conditioner, drilling, engine_idling, jackhammer
from .music import street_music
from .voices import children_playing, dog_bark

VERSION = "synth-3"

GENERATORS = {
    "air_conditioner": air_conditioner, "car_horn": car_horn, "children_playing": children_playing,
    "dog_bark": dog_bark, "drilling": drilling, "engine_idling": engine_idling, "gun_shot": gun_shot,
    "jackhammer": jackhammer, "siren": siren, "street_music": street_music,
}
assert tuple(GENERATORS) == CLASS_NAMES

# probability that a clip is shorter than 4 s (as in UrbanSound8K, short events are often cut short)
SHORT_CLIP_PROB = {"car_horn": 0.5, "dog_bark": 0.5, "gun_shot": 0.7}


@dataclass(frozen=True)
class Difficulty:
    bed_snr_db: tuple = (-3.0, 12.0)        # event-to-background-bed ratio range
    distractor_prob: float = 0.8            # chance of a quieter event of another class in the bed
    distractor_snr_db: tuple = (0.0, 10.0)  # event-to-distractor ratio range
    reverb_rt60: tuple = (0.1, 1.2)
    reverb_wet: tuple = (0.0, 0.5)
    tilt_db_per_octave: tuple = (-4.0, 2.0)


DIFFICULTY = Difficulty()


def _event(class_name, rng, n, sr, diff):
    x = GENERATORS[class_name](rng, n, sr)
    return dsp.colour_and_room(x, rng, rng.uniform(*diff.tilt_db_per_octave), rng.uniform(*diff.reverb_rt60),
                               rng.uniform(*diff.reverb_wet), sr)


def _bed(rng, n, sr):
    """Quiet city background: coloured noise (between pink and brown) with a slow level drift."""
    bed = dsp.power_law_noise(n, rng, rng.uniform(1.0, 2.0))
    bed = dsp.tilt(bed, rng.uniform(-2, 2), sr)
    return dsp.normalize_rms(bed * (1 + 0.3 * dsp.smooth_random(n, rng, 0.3, sr)))


def generate_clip(class_id, seed, sr=16000, diff=DIFFICULTY):
    """The waveform (float32, 0.5-4 s at ``sr``) of clip ``seed`` of class ``class_id``."""
    rng = np.random.default_rng(seed)
    name = CLASS_NAMES[class_id]
    seconds = rng.uniform(0.5, 4.0) if rng.random() < SHORT_CLIP_PROB.get(name, 0.1) else 4.0
    n = int(seconds * sr)
    event = _event(name, rng, n, sr, diff)
    ev_rms = dsp.rms(event) or 1.0
    mix = event + _bed(rng, n, sr) * ev_rms * dsp.db_to_gain(-rng.uniform(*diff.bed_snr_db))
    if rng.random() < diff.distractor_prob:
        other = CLASS_NAMES[(class_id + rng.integers(1, len(CLASS_NAMES))) % len(CLASS_NAMES)]
        distractor = dsp.normalize_rms(_event(other, rng, n, sr, diff), ev_rms)
        mix += distractor * dsp.db_to_gain(-rng.uniform(*diff.distractor_snr_db))
    peak = np.max(np.abs(mix)) or 1.0
    return (mix / peak * dsp.db_to_gain(rng.uniform(-30, -3))).astype(np.float32)
