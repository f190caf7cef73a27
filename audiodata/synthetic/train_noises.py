"""Generic noises for multi-condition training, disjoint from the seven test noises (synthetic/noises.py).

They are deliberately other kinds of sound than the test types (no pink, no babble, no engine or
factory imitation), so that training on them and testing on the seven measures robustness to noise
the model has not seen. Each returns ``n`` samples at ``sr`` normalised to the same RMS.
"""
import numpy as np

from . import dsp


def white(rng, n, sr):
    """White Gaussian noise: flat power spectral density."""
    return dsp.power_law_noise(n, rng, 0.0)


def brown(rng, n, sr):
    """Brown (red) noise: power spectral density proportional to 1/f^2 (-6 dB/octave)."""
    return dsp.power_law_noise(n, rng, 2.0)


def violet(rng, n, sr):
    """Violet noise: power spectral density proportional to f^2 (+6 dB/octave): hiss. (dsp.power_law_noise
    handles falling spectra only: its DC bin is 1/inf.)"""
    spec = rng.standard_normal(n // 2 + 1) + 1j * rng.standard_normal(n // 2 + 1)
    spec *= np.arange(n // 2 + 1, dtype=np.float64)  # amplitude ~ f, power ~ f^2, DC bin zero
    return dsp.normalize_rms(np.fft.irfft(spec, n))


def hum(rng, n, sr):
    """Mains hum with harmonics at 60 Hz (the test noises hum at 50/100 Hz) and a slow level drift."""
    tone = dsp.harmonic_tone(np.full(n, 60.0), 1.0 / np.arange(1, 16), sr, rng)
    return dsp.normalize_rms(tone * (1 + 0.2 * dsp.smooth_random(n, rng, 0.3, sr)))


def clicks(rng, n, sr, rate=12.0):
    """Impulsive clicks: short broadband transients (1-3 ms) at random times, about ``rate`` per second."""
    out = np.zeros(n)
    n_clicks = rng.poisson(rate * n / sr)
    for pos in rng.integers(0, n, n_clicks):
        length = int(rng.uniform(0.001, 0.003) * sr)
        click = rng.standard_normal(length) * dsp.decay(length, rng.uniform(0.0003, 0.001), sr)
        dsp.add_at(out, click * rng.uniform(0.3, 1.0), int(pos))
    return dsp.normalize_rms(out)


def crowd(rng, n, sr, n_sources=40):
    """A distant crowd: many band-limited noise bursts (unvoiced murmur, claps, shuffling) with slow
    random level changes: no harmonic voices, unlike the babble test noise."""
    out = np.zeros(n)
    for _ in range(n_sources):
        lo = rng.uniform(200, 1500)
        band = dsp.sos_filter(rng.standard_normal(n), "bandpass", (lo, lo * rng.uniform(1.5, 3.0)), sr)
        level = np.clip(dsp.smooth_random(n, rng, rng.uniform(0.5, 3.0), sr), 0, None)
        out += rng.uniform(0.3, 1.0) * band * level
    return dsp.normalize_rms(out)


TRAIN_NOISES = {"white": white, "brown": brown, "violet": violet, "hum": hum, "clicks": clicks, "crowd": crowd}
