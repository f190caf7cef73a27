"""Vocal classes: dog_bark, children_playing."""
import numpy as np

from . import dsp


def dog_bark(rng, n, sr):
    """One to six barks: short harmonic bursts with a rising-falling pitch, a formant and breath
    noise, at irregular intervals; sometimes a growl between them."""
    out = np.zeros(n)
    f0_base = rng.uniform(250, 900)
    formant = rng.uniform(800, 2200)
    pos = rng.integers(0, max(n // 3, 1))
    for _ in range(rng.integers(1, 7)):
        length = int(rng.uniform(0.08, 0.3) * sr)
        u = np.linspace(0, 1, length)
        f0 = f0_base * rng.uniform(0.9, 1.1) * (1 + 0.4 * np.sin(np.pi * u ** 0.7))
        voiced = dsp.harmonic_tone(f0, 1.0 / np.arange(1, 15), sr, rng)
        voiced = voiced + dsp.sos_filter(voiced, "bandpass", (formant * 0.7, formant * 1.3), sr) * 2
        breath = dsp.sos_filter(rng.standard_normal(length), "bandpass", (formant * 0.5, formant * 2), sr)
        bark = (dsp.normalize_rms(voiced) + rng.uniform(0.1, 0.6) * dsp.normalize_rms(breath)) \
            * np.sin(np.pi * u) ** 0.5 * dsp.decay(length, rng.uniform(0.05, 0.2), sr)
        dsp.add_at(out, bark * rng.uniform(0.6, 1.0), pos)
        pos += length + int(rng.uniform(0.1, 0.8) * sr)
        if pos >= n:
            break
    return out


def children_playing(rng, n, sr):
    """A few children's voices (high pitch, fast syllables, glides) overlapping, with occasional
    shouts or laughter bursts."""
    out = np.zeros(n)
    for _ in range(rng.integers(2, 6)):
        v = dsp.formant_voice(n, rng, sr, (230, 450), rng.uniform(3, 6), dsp.VOWELS, n_harmonics=14)
        out += rng.uniform(0.3, 1.0) * dsp.normalize_rms(v)
    for _ in range(rng.integers(0, 3)):
        length = int(rng.uniform(0.2, 0.7) * sr)
        u = np.linspace(0, 1, length)
        f0 = rng.uniform(400, 700) * (1 + 0.3 * np.sin(np.pi * u))
        laugh = 1 + np.sin(dsp.phase_from_freq(np.full(length, rng.uniform(5, 9)), sr))
        shout = dsp.harmonic_tone(f0, 1.0 / np.arange(1, 10), sr, rng) * laugh * np.sin(np.pi * u)
        dsp.add_at(out, 1.5 * dsp.normalize_rms(shout), rng.integers(0, n))
    return out
