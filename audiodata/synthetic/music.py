"""Street music: melodies and chords on random instruments, optionally with drums."""
import numpy as np

from . import dsp

SCALES = ((0, 2, 4, 5, 7, 9, 11), (0, 2, 3, 5, 7, 8, 10), (0, 2, 4, 7, 9))


def _note(rng, freq, length, sr, timbre, pluck):
    tone = dsp.harmonic_tone(np.full(length, freq), timbre, sr, rng)
    env = dsp.decay(length, rng.uniform(0.15, 0.5), sr) if pluck else dsp.envelope(length, 0.02, 0.05, sr)
    return tone * env


def street_music(rng, n, sr):
    """A busker: melody (and sometimes a bass line and chords) in a random key, scale and tempo on
    one to two random-timbre instruments (plucked or sustained), sometimes with kick and hi-hat."""
    out = np.zeros(n)
    tempo = rng.uniform(70, 150)
    beat = int(60.0 / tempo * sr)
    root = 110.0 * 2 ** (rng.integers(0, 24) / 12)
    scale = SCALES[rng.integers(len(SCALES))]
    for part in range(rng.integers(1, 3)):
        timbre = rng.uniform(0, 1, 10) * np.arange(1, 11) ** -rng.uniform(0.5, 1.5)
        pluck = rng.random() < 0.5
        octave = 2.0 if part == 0 else 0.5
        pos = 0
        while pos < n:
            length = int(beat * rng.choice([1, 1, 2, 0.5]))
            deg = rng.integers(0, 2 * len(scale))
            freq = root * octave * 2 ** ((scale[deg % len(scale)] + 12 * (deg // len(scale))) / 12)
            chord = [freq] if rng.random() < 0.7 else [freq, freq * 2 ** (4 / 12), freq * 2 ** (7 / 12)]
            for f in chord:
                dsp.add_at(out, _note(rng, f, length, sr, timbre, pluck) * rng.uniform(0.5, 1.0), pos)
            pos += length
    if rng.random() < 0.5:  # drums: kick on the beats (loud), hi-hat on every half beat
        kick_len = int(0.15 * sr)
        t = np.arange(kick_len) / sr
        kick = np.sin(2 * np.pi * (50 * t + 60 * (1 - np.exp(-t * 30)) / 30)) * dsp.decay(kick_len, 0.05, sr)
        hat_len = int(0.05 * sr)
        for i, pos in enumerate(range(0, n, beat // 2)):
            if i % 2 == 0:
                dsp.add_at(out, kick * 2 * dsp.rms(out + 1e-9) / 0.3, pos)
            hat = dsp.sos_filter(rng.standard_normal(hat_len), "highpass", 6000, sr) * dsp.decay(hat_len, 0.01, sr)
            dsp.add_at(out, hat * 0.3 * (dsp.rms(out) + 1e-9), pos)
    return out
