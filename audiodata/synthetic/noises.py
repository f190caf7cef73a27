"""Generated stand-ins for the seven NOISEX-92 recordings (used when no noise directory is given).

Each function returns ``n`` samples at ``sr`` of a stationary-ish noise with the character of the
NOISEX-92 recording it is named after; they are not copies of it.
"""
import numpy as np

from . import dsp


def pink(rng, n, sr):
    """Pink noise: power spectral density exactly proportional to 1/f."""
    return dsp.pink_noise(n, rng)


def babble(rng, n, sr, n_voices=20):
    """Canteen babble: many overlapping adult speech-like voices (formant-filtered harmonic sources
    with syllable-rate modulation and pauses), male and female pitches."""
    out = np.zeros(n)
    for _ in range(n_voices):
        f0 = (85, 150) if rng.random() < 0.5 else (160, 260)
        # each talker: 5-9 s of speech repeated; the different lengths keep the sum from repeating
        m = min(n, int(rng.uniform(5, 9) * sr))
        v = dsp.formant_voice(m, rng, sr, f0, rng.uniform(3, 5.5), dsp.VOWELS, n_harmonics=16)
        v *= dsp.envelope(m, 0.02, 0.02, sr)
        out += rng.uniform(0.4, 1.0) * np.roll(np.resize(dsp.normalize_rms(v), n), rng.integers(0, n))
    return dsp.normalize_rms(out)


def f16(rng, n, sr):
    """F-16 cockpit: strong broadband jet/air noise plus a few strong steady tones."""
    air = dsp.tilt(dsp.power_law_noise(n, rng, 0.6), -1.5, sr)
    t = np.arange(n) / sr
    tones = sum(a * np.sin(2 * np.pi * f * t + rng.uniform(0, 6.3))
                for f, a in ((2500, 1.0), (1250, 0.5), (3750, 0.35), (5000, 0.2)))
    return dsp.normalize_rms(dsp.normalize_rms(air) + 0.8 * dsp.normalize_rms(tones))


def _hammering(rng, n, sr, rate, ring_hz):
    """Irregular impulsive blows at about ``rate`` per second, each a metallic decaying ring."""
    out = np.zeros(n)
    hit_len = int(0.25 * sr)
    t = np.arange(hit_len) / sr
    pos = 0.0
    while pos < n:
        ring = sum(np.sin(2 * np.pi * f * rng.uniform(0.97, 1.03) * t) for f in ring_hz)
        hit = (ring + rng.standard_normal(hit_len)) * dsp.decay(hit_len, rng.uniform(0.02, 0.06), sr)
        dsp.add_at(out, hit * rng.uniform(0.4, 1.0), pos)
        pos += sr / rate * rng.uniform(0.5, 1.5)
    return out


def _factory(rng, n, sr, mains, hammer_rate, ring_hz, hum_weight):
    hum = dsp.harmonic_tone(np.full(n, mains), (1.0, 0.5, 0.7, 0.3, 0.4, 0.2), sr, rng)
    machinery = dsp.sos_filter(dsp.pink_noise(n, rng), "lowpass", 4000, sr)
    mod = 1 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.5, 2) * np.arange(n) / sr)
    return dsp.normalize_rms(hum_weight * dsp.normalize_rms(hum) + dsp.normalize_rms(machinery) * mod
                             + 0.9 * dsp.normalize_rms(_hammering(rng, n, sr, hammer_rate, ring_hz)))


def factory1(rng, n, sr):
    """Factory floor 1: 50 Hz machinery hum, broadband machine noise, slow irregular hammering."""
    return _factory(rng, n, sr, 50.0, 1.5, (900, 1700, 2900), 0.6)


def factory2(rng, n, sr):
    """Factory floor 2: 100 Hz hum dominant, faster, higher-pitched hammering (a car plant)."""
    return _factory(rng, n, sr, 100.0, 5.0, (1500, 2600, 4200), 1.0)


def leopard(rng, n, sr):
    """Leopard military vehicle: diesel engine low harmonics plus track clatter and rumble."""
    f0 = 35 * (1 + 0.04 * dsp.smooth_random(n, rng, 0.2, sr))
    engine = dsp.harmonic_tone(f0, np.arange(1, 30) ** -0.7, sr, rng)
    rumble = dsp.sos_filter(dsp.power_law_noise(n, rng, 1.5), "lowpass", 500, sr)
    clatter = dsp.sos_filter(rng.standard_normal(n), "bandpass", (300, 2500), sr)
    clatter *= 0.5 + 0.5 * np.sin(2 * np.pi * 9.0 * np.arange(n) / sr) ** 8
    return dsp.normalize_rms(dsp.normalize_rms(engine) + dsp.normalize_rms(rumble)
                             + 0.5 * dsp.normalize_rms(clatter))


def destroyer(rng, n, sr):
    """Destroyer engine room: dense broadband turbine noise, strong low/mid engine harmonics, hiss."""
    engine = dsp.harmonic_tone(np.full(n, 110.0), np.arange(1, 20) ** -0.5, sr, rng)
    turbine = dsp.tilt(dsp.power_law_noise(n, rng, 0.8), 0.5, sr)
    hiss = dsp.sos_filter(rng.standard_normal(n), "highpass", 3000, sr)
    return dsp.normalize_rms(dsp.normalize_rms(turbine) + 0.8 * dsp.normalize_rms(engine)
                             + 0.3 * dsp.normalize_rms(hiss))


BUILTIN_NOISES = {"babble": babble, "f16": f16, "factory1": factory1, "factory2": factory2,
                  "leopard": leopard, "pink": pink, "destroyer": destroyer}
