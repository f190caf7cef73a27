"""Small signal-processing building blocks shared by the procedural sound and noise generators.

All functions take and return float64 numpy arrays at sample rate ``sr`` and draw randomness only
from the ``numpy.random.Generator`` they are given, so every sound is a function of its seed.
"""
import numpy as np
from scipy import fft as sp_fft
from scipy import signal


def db_to_gain(db):
    return 10.0 ** (np.asarray(db, dtype=np.float64) / 20.0)


def rms(x):
    return float(np.sqrt(np.mean(np.square(x)))) if x.size else 0.0


def normalize_rms(x, target=0.1):
    r = rms(x)
    return x * (target / r) if r > 0 else x


def power_law_noise(n, rng, exponent):
    """Gaussian noise whose power spectrum is exactly proportional to 1/f**exponent (0 white,
    1 pink, 2 brown), shaped in the frequency domain; the DC bin is zero."""
    spec = rng.standard_normal(n // 2 + 1) + 1j * rng.standard_normal(n // 2 + 1)
    f = np.arange(n // 2 + 1, dtype=np.float64)
    f[0] = np.inf
    spec *= f ** (-exponent / 2.0)
    return normalize_rms(np.fft.irfft(spec, n))


def pink_noise(n, rng):
    return power_law_noise(n, rng, 1.0)


def sos_filter(x, kind, freq, sr, order=2):
    """Butterworth filter: kind 'lowpass' | 'highpass' | 'bandpass' (freq a pair)."""
    nyq = sr / 2.0
    wn = np.clip(np.asarray(freq, dtype=np.float64) / nyq, 1e-4, 0.999)
    sos = signal.butter(order, wn, btype=kind, output="sos")
    return signal.sosfilt(sos, x)


def phase_from_freq(freq, sr):
    """Instantaneous phase (radians) of a per-sample frequency track in Hz."""
    return 2 * np.pi * np.cumsum(np.asarray(freq, dtype=np.float64)) / sr


def harmonic_tone(freq_track, amps, sr, rng=None):
    """Sum of harmonics k*f(t), k = 1..len(amps); ``amps[k-1]`` is a number or a per-sample array.
    Harmonics above Nyquist are left out sample by sample (no aliasing). Random start phases when
    rng is given. (Computed with powers of exp(i*phase), much cheaper than a sine per harmonic.)"""
    freq_track = np.asarray(freq_track, dtype=np.float64)
    z = np.exp(1j * phase_from_freq(freq_track, sr)).astype(np.complex64)
    zk = np.ones_like(z)
    out = np.zeros(freq_track.shape[0])
    nyquist = sr / 2 * 0.95
    for k, a in enumerate(amps, start=1):
        zk *= z
        ph0 = rng.uniform(0, 2 * np.pi) if rng is not None else 0.0
        if k * freq_track.min() >= nyquist:
            break
        part = (zk * np.complex64(np.exp(1j * ph0))).imag * a
        out += part if k * freq_track.max() < nyquist else part * (k * freq_track < nyquist)
    return out


def smooth_random(n, rng, rate_hz, sr):
    """Slowly varying random curve in about [-1, 1] with variations at ``rate_hz``."""
    n_knots = max(int(n / sr * rate_hz) + 2, 2)
    knots = rng.uniform(-1, 1, n_knots)
    return np.interp(np.linspace(0, n_knots - 1, n), np.arange(n_knots), knots)


def envelope(n, attack, release, sr):
    """Linear attack / release envelope of n samples (times in seconds)."""
    env = np.ones(n)
    a, r = min(int(attack * sr), n), min(int(release * sr), n)
    if a > 0:
        env[:a] = np.linspace(0, 1, a)
    if r > 0:
        env[n - r:] *= np.linspace(1, 0, r)
    return env


def decay(n, tau, sr):
    """Exponential decay exp(-t/tau) over n samples."""
    return np.exp(-np.arange(n) / (tau * sr))


def add_at(dest, event, start):
    """Add ``event`` into ``dest`` from sample ``start`` on, clipped to dest's length."""
    start = int(start)
    if start >= dest.shape[0] or start + event.shape[0] <= 0:
        return dest
    a, b = max(start, 0), min(start + event.shape[0], dest.shape[0])
    dest[a:b] += event[a - start:b - start]
    return dest


def room_ir(rng, rt60, sr):
    """A simple room: exponentially decaying noise reaching -60 dB after ``rt60`` s, unit energy."""
    n_ir = max(int(rt60 * sr), 16)
    ir = rng.standard_normal(n_ir) * np.exp(-6.9 * np.arange(n_ir) / n_ir)
    return ir / np.sqrt(np.sum(ir ** 2))


def tilt_gain(freqs, db_per_octave, pivot_hz=1000.0):
    f = np.maximum(freqs, 1.0)
    return db_to_gain(db_per_octave * np.log2(f / pivot_hz))


def colour_and_room(x, rng, db_per_octave, rt60, wet, sr):
    """Spectral tilt (gain rising ``db_per_octave`` per octave above 1 kHz: timbre colour and
    distance) and reverberation (``wet`` part of the signal through :func:`room_ir`), in one FFT
    filter; the output keeps x's length (the tail past it is cut)."""
    ir = room_ir(rng, rt60, sr)
    nfft = sp_fft.next_fast_len(x.shape[0] + ir.shape[0], real=True)
    h = tilt_gain(np.fft.rfftfreq(nfft, 1.0 / sr), db_per_octave) * ((1 - wet) + wet * sp_fft.rfft(ir, nfft))
    return sp_fft.irfft(sp_fft.rfft(x, nfft) * h, nfft)[: x.shape[0]]


def tilt(x, db_per_octave, sr):
    """Spectral tilt alone (see :func:`colour_and_room`)."""
    spec = sp_fft.rfft(x) * tilt_gain(np.fft.rfftfreq(x.shape[0], 1.0 / sr), db_per_octave)
    return sp_fft.irfft(spec, x.shape[0])


def formant_voice(n, rng, sr, f0_range, syllable_rate, formant_sets, n_harmonics=30, hop=64):
    """A speech-like voice by source-filter additive synthesis: harmonics of a wandering pitch,
    each weighted by a vowel's formant envelope at its frequency; a new vowel each syllable
    (formants glide between them), gated by a syllable-rate envelope with pauses. Envelopes are
    computed every ``hop`` samples and interpolated."""
    base = rng.uniform(*f0_range)
    f0 = base * 2 ** (0.25 * smooth_random(n, rng, syllable_rate, sr))
    n_syl = max(int(n / sr * syllable_rate) + 1, 2)
    vowels = np.array([formant_sets[i] for i in rng.integers(len(formant_sets), size=n_syl)], dtype=np.float64)
    coarse = np.arange(0, n + hop, hop)
    pos = np.linspace(0, n_syl - 1, coarse.shape[0])
    formants = np.stack([np.interp(pos, np.arange(n_syl), vowels[:, i]) for i in range(vowels.shape[1])])
    f0_coarse = np.interp(coarse, np.arange(n), f0)
    amps = []
    for k in range(1, n_harmonics + 1):
        fk = k * f0_coarse
        env = np.sum(np.exp(-0.5 * ((fk - formants) / (60 + 0.1 * formants)) ** 2), axis=0) + 0.02
        amps.append(np.interp(np.arange(n), coarse, env / k ** 0.7))
    voiced = harmonic_tone(f0, amps, sr, rng)
    syl_phase = phase_from_freq(np.full(n, syllable_rate * rng.uniform(0.8, 1.2)), sr)
    gate = np.clip(np.sin(syl_phase / 2) ** 2 * 1.4 - 0.2, 0, 1)
    pauses = (smooth_random(n, rng, 0.7, sr) > -0.5).astype(np.float64)
    return voiced * gate * pauses


VOWELS = ((700, 1200, 2500), (300, 2300, 3000), (500, 900, 2400), (350, 800, 2300),
          (550, 1800, 2500), (450, 1500, 2600))
