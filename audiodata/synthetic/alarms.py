"""Tonal warning signals: car_horn, siren."""
import numpy as np

from . import dsp


def car_horn(rng, n, sr):
    """One to four honks of a one- or two-tone horn (rich, buzzy harmonics) with slight vibrato."""
    out = np.zeros(n)
    f0s = rng.uniform(280, 620) * np.array([1.0, rng.choice([1.0, 1.19, 1.26, 1.33])])[: rng.integers(1, 3)]
    rolloff = rng.uniform(0.6, 1.3)
    amps = np.arange(1, 20) ** -rolloff
    for _ in range(rng.integers(1, 5)):
        length = int(rng.uniform(0.15, 0.6 if rng.random() < 0.6 else 1.0) * n)
        start = rng.integers(0, n - length + 1)
        honk = np.zeros(length)
        for f0 in f0s:
            vib = f0 * (1 + 0.004 * np.sin(dsp.phase_from_freq(np.full(length, rng.uniform(4, 8)), sr)))
            honk += dsp.harmonic_tone(vib, amps, sr, rng)
        dsp.add_at(out, honk * dsp.envelope(length, 0.01, 0.03, sr), start)
    return out


def siren(rng, n, sr):
    """Emergency siren: wail (slow sweep), yelp (fast sweep) or hi-lo (two alternating tones),
    with a few harmonics and, sometimes, a Doppler pass-by."""
    kind = rng.choice(["wail", "yelp", "hilo"])
    lo, hi = rng.uniform(400, 900), rng.uniform(1000, 1800)
    t = np.arange(n) / sr
    if kind == "wail":
        sweep = 0.5 - 0.5 * np.cos(2 * np.pi * t / rng.uniform(1.5, 5.0) + rng.uniform(0, 6.3))
    elif kind == "yelp":
        sweep = (t * rng.uniform(2.5, 8.0) + rng.uniform(0, 1)) % 1.0
    else:
        sweep = (np.floor(t / rng.uniform(0.35, 0.8) + rng.uniform(0, 2)) % 2).astype(np.float64)
    freq = lo + (hi - lo) * sweep
    if rng.random() < 0.4:
        freq *= 1 + 0.03 * np.tanh((t - rng.uniform(0, n / sr)) * rng.uniform(0.5, 3.0)) * -1
    tone = dsp.harmonic_tone(freq, rng.uniform(0.05, 1.0, 5) * np.array([1, .6, .4, .3, .2]), sr, rng)
    return tone * dsp.envelope(n, 0.05, 0.05, sr)
