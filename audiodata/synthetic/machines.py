"""Machinery classes: air_conditioner, engine_idling, drilling, jackhammer."""
import numpy as np

from . import dsp


def air_conditioner(rng, n, sr):
    """Fan/compressor: low-passed broadband air noise, a low hum with a few harmonics, slow
    blade-rate amplitude modulation."""
    air = dsp.sos_filter(dsp.pink_noise(n, rng), "lowpass", rng.uniform(400, 3500), sr)
    f0 = rng.uniform(30, 130) * (1 + 0.01 * dsp.smooth_random(n, rng, 0.5, sr))
    hum = dsp.harmonic_tone(f0, rng.uniform(0, 1, rng.integers(2, 7)), sr, rng)
    mod = 1 + rng.uniform(0, 0.3) * np.sin(dsp.phase_from_freq(np.full(n, rng.uniform(3, 25)), sr))
    return dsp.normalize_rms(air) * mod + rng.uniform(0.1, 0.8) * dsp.normalize_rms(hum)


def engine_idling(rng, n, sr):
    """Idling combustion engine: a firing-rate harmonic series (decaying spectrum, jittered rate)
    shaped by a resonance, plus low rumble."""
    f0 = rng.uniform(18, 70) * (1 + 0.03 * dsp.smooth_random(n, rng, 2.0, sr))
    k = np.arange(1, 25)
    amps = k ** -rng.uniform(0.5, 1.3) * rng.uniform(0.3, 1.0, k.shape[0])
    tone = dsp.harmonic_tone(f0, amps, sr, rng)
    body = dsp.sos_filter(tone, "bandpass", sorted(rng.uniform(80, 1200, 2)) + np.array([0, 150]), sr)
    rumble = dsp.sos_filter(dsp.pink_noise(n, rng), "lowpass", rng.uniform(150, 600), sr)
    firing = 1 + rng.uniform(0.1, 0.6) * np.sin(dsp.phase_from_freq(f0 / 2, sr))
    return (dsp.normalize_rms(tone) + 0.7 * dsp.normalize_rms(body)) * firing \
        + rng.uniform(0.2, 1.0) * dsp.normalize_rms(rumble)


def drilling(rng, n, sr):
    """Power drill: a high motor whine (harmonics emphasized in 1-5 kHz) whose speed ramps, band
    noise of the bit, in one to three bursts."""
    out = np.zeros(n)
    for _ in range(rng.integers(1, 4)):
        length = int(rng.uniform(0.4, 1.0) * n)
        start = rng.integers(0, n - length + 1)
        speed = rng.uniform(120, 450) * (1 + rng.uniform(0.02, 0.15) * dsp.smooth_random(length, rng, 1.5, sr))
        whine = dsp.harmonic_tone(speed, rng.uniform(0.2, 1.0, 16), sr, rng)
        whine = dsp.sos_filter(whine, "bandpass", (rng.uniform(600, 1500), rng.uniform(3000, 6000)), sr)
        bit = dsp.sos_filter(rng.standard_normal(length), "bandpass",
                             (rng.uniform(1500, 3000), rng.uniform(4500, 7500)), sr)
        burst = dsp.normalize_rms(whine) + rng.uniform(0.2, 0.8) * dsp.normalize_rms(bit)
        if rng.random() < 0.4:  # hammer-drill mode: impacts modulate the whine
            burst *= 1 + 0.8 * np.sin(dsp.phase_from_freq(np.full(length, rng.uniform(15, 40)), sr)) ** 4
        dsp.add_at(out, burst * dsp.envelope(length, 0.05, 0.08, sr), start)
    return out


def jackhammer(rng, n, sr):
    """Pneumatic hammer: blows at 10-30 per second, each a short decaying burst of band noise
    plus a metallic ring (inharmonic partials), in bursts with pauses."""
    out = np.zeros(n)
    rate = rng.uniform(10, 30)
    ring_freqs = rng.uniform(400, 3000, 3)
    blow_len = int(0.04 * sr)
    t = np.arange(blow_len) / sr
    ring = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 6.3)) for f in ring_freqs)
    band = dsp.sos_filter(rng.standard_normal(n + blow_len), "bandpass",
                          (rng.uniform(200, 1000), rng.uniform(2500, 6000)), sr)
    on = dsp.smooth_random(n, rng, 0.6, sr) > rng.uniform(-0.8, 0.0)
    blow_env = dsp.decay(blow_len, rng.uniform(0.004, 0.012), sr)
    pos = rng.uniform(0, 1 / rate) * sr
    while pos < n:
        p = int(pos)
        if on[p]:
            hit = band[p:p + blow_len] / max(dsp.rms(band), 1e-12) + rng.uniform(0.2, 0.8) * ring
            dsp.add_at(out, hit * blow_env * rng.uniform(0.7, 1.0), p)
        pos += sr / rate * rng.uniform(0.95, 1.05)
    return out
