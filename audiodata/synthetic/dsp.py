"""Small signal-processing building blocks shared by the procedural sound and noise generators.

All functions take and return float64 numpy arrays at sample rate ``sr`` and draw randomness only
from the ``numpy.random.Generator`` they are given, so every sound is a function of its seed.
"""
import numpy as np
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


def resonator_bank(x, centres, bandwidths, sr):
    """Each row: ``x`` through a 2nd-order band-pass at centres[i] with bandwidths[i] (Hz)."""
    out = np.empty((len(centres), x.shape[0]))
    for i, (fc, bw) in enumerate(zip(centres, bandwidths)):
        lo, hi = max(fc - bw / 2, 20.0), min(fc + bw / 2, sr / 2 * 0.98)
        out[i] = sos_filter(x, "bandpass", (lo, hi), sr, order=1)
    return out


def phase_from_freq(freq, sr):
    """Instantaneous phase (radians) of a frequency track in Hz (scalar or per-sample array)."""
    return 2 * np.pi * np.cumsum(np.asarray(freq, dtype=np.float64)) / sr


def harmonic_tone(freq_track, amps, sr, rng=None):
    """Sum of harmonics k*f(t), k = 1..len(amps), with amplitudes ``amps``; harmonics above
    Nyquist are left out sample by sample (no aliasing). Random start phases when rng is given.
    (Computed with powers of exp(i*phase), much cheaper than one sine per harmonic.)"""
    freq_track = np.asarray(freq_track, dtype=np.float64)
    z = np.exp(1j * phase_from_freq(freq_track, sr))
    zk = np.ones_like(z)
    out = np.zeros(freq_track.shape[0])
    for k, a in enumerate(amps, start=1):
        zk *= z
        if a == 0:
            continue
        ph0 = rng.uniform(0, 2 * np.pi) if rng is not None else 0.0
        if k * freq_track.min() >= sr / 2 * 0.95:
            break
        out += a * (zk * np.exp(1j * ph0)).imag * (k * freq_track < sr / 2 * 0.95)
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


def reverb(x, rng, rt60, wet, sr):
    """Convolve with an exponentially decaying noise impulse response (a simple room) and mix
    ``wet`` of it with the dry signal; the output keeps x's length."""
    n_ir = max(int(rt60 * sr), 16)
    ir = rng.standard_normal(n_ir) * np.exp(-6.9 * np.arange(n_ir) / n_ir)
    ir /= np.sqrt(np.sum(ir ** 2))
    wet_sig = signal.fftconvolve(x, ir)[: x.shape[0]]
    return (1 - wet) * x + wet * wet_sig


def tilt(x, db_per_octave, sr, pivot_hz=1000.0):
    """Spectral tilt (timbre colour / distance): gain rises ``db_per_octave`` per octave above the
    pivot frequency and falls below it."""
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(x.shape[0], 1.0 / sr)
    f[0] = f[1] if f.shape[0] > 1 else 1.0
    spec *= db_to_gain(db_per_octave * np.log2(f / pivot_hz))
    return np.fft.irfft(spec, x.shape[0])


def formant_voice(n, rng, sr, f0_range, syllable_rate, formant_sets, n_harmonics=30):
    """A speech-like voice: glottal harmonic source with a wandering pitch, through a fixed bank of
    resonators whose mixing weights change per syllable (a new vowel each syllable), gated by a
    syllable-rate envelope with pauses."""
    f0_lo, f0_hi = f0_range
    base = rng.uniform(f0_lo, f0_hi)
    f0 = base * 2 ** (0.25 * smooth_random(n, rng, syllable_rate, sr))
    amps = 1.0 / np.arange(1, n_harmonics + 1)
    source = harmonic_tone(f0, amps, sr, rng) + 0.05 * rng.standard_normal(n)
    centres = np.array([300, 500, 800, 1200, 1800, 2500, 3300], dtype=np.float64)
    bank = resonator_bank(source, centres, centres * 0.25, sr)
    n_syl = max(int(n / sr * syllable_rate) + 1, 1)
    weights = np.zeros((len(centres), n_syl))
    for s in range(n_syl):
        vowel = formant_sets[rng.integers(len(formant_sets))]
        weights[:, s] = [np.exp(-np.min(np.abs(np.log2(c / np.asarray(vowel)))) * 4) for c in centres]
    pos = np.linspace(0, n_syl - 1, n)
    w = np.stack([np.interp(pos, np.arange(n_syl), row) for row in weights])
    voiced = np.sum(bank * w, axis=0)
    syl_phase = phase_from_freq(np.full(n, syllable_rate * rng.uniform(0.8, 1.2)), sr)
    gate = np.clip(np.sin(syl_phase / 2) ** 2 * 1.4 - 0.2, 0, 1)
    pauses = (smooth_random(n, rng, 0.7, sr) > -0.5).astype(np.float64)
    return voiced * gate * pauses


VOWELS = ((700, 1200, 2500), (300, 2300, 3000), (500, 900, 2400), (350, 800, 2300),
          (550, 1800, 2500), (450, 1500, 2600))
