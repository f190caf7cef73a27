"""Impulsive class: gun_shot."""
import numpy as np

from . import dsp


def gun_shot(rng, n, sr):
    """One to five shots: a sharp broadband crack with a low boom, each with its own long
    reverberant tail (outdoor echo)."""
    out = np.zeros(n)
    n_shots = rng.integers(1, 6)
    start = rng.integers(0, max(n // 2, 1))
    rt60 = rng.uniform(0.3, 1.8)
    for _ in range(n_shots):
        length = min(int(rt60 * sr) + int(0.05 * sr), n)
        crack = rng.standard_normal(length) * dsp.decay(length, rng.uniform(0.003, 0.02), sr)
        boom = dsp.sos_filter(rng.standard_normal(length), "lowpass", rng.uniform(150, 600), sr) \
            * dsp.decay(length, rng.uniform(0.03, 0.12), sr) * 3
        shot = dsp.colour_and_room(crack + boom, rng, 0.0, rt60, rng.uniform(0.3, 0.7), sr)
        dsp.add_at(out, shot * rng.uniform(0.5, 1.0), start)
        start += int(rng.uniform(0.08, 0.9) * sr)
    return out
