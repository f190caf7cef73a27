"""Mixing at an SNR, noise segments, noise recordings (real folder and built-in)."""
import numpy as np
import pytest
import soundfile
from scipy import signal

from audiodata import NOISE_TYPES, NoiseBank, mix_at_snr, noise_segment
from audiodata.mixing import measured_snr
from audiodata.synthetic import dsp


@pytest.mark.parametrize("snr", [20, 15, 10, 5, 0, -5, 7.3])
def test_mixture_snr_measured_back_within_0_1_db(snr):
    rng = np.random.default_rng(0)
    clean = (0.2 * np.sin(np.arange(23000) * 0.05) * rng.uniform(0, 1, 23000)).astype(np.float32)
    noise = noise_segment(dsp.pink_noise(160000, rng), clean.shape[0], rng)
    mix = mix_at_snr(clean, noise, snr)
    assert mix.dtype == np.float32 and mix.shape == clean.shape
    assert abs(measured_snr(clean, mix) - snr) < 0.1


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), "loud", None])
def test_non_finite_snr_is_an_error(bad):
    with pytest.raises(ValueError, match="finite number"):
        mix_at_snr(np.ones(10), np.ones(10), bad)


def test_noise_segments_keep_train_and_test_apart_and_are_seeded():
    recording = np.arange(10000, dtype=np.float32)
    for i in range(50):
        train = noise_segment(recording, 1200, np.random.default_rng(i), part="train")
        test = noise_segment(recording, 1200, np.random.default_rng(i), part="test")
        assert train.max() < 5000 <= test.min()
        assert np.all(np.diff(test) == 1)  # one contiguous piece
    a = noise_segment(recording, 1200, np.random.default_rng(7))
    np.testing.assert_array_equal(a, noise_segment(recording, 1200, np.random.default_rng(7)))
    assert not np.array_equal(a, noise_segment(recording, 1200, np.random.default_rng(8)))
    wrapped = noise_segment(recording, 7000, np.random.default_rng(0))  # longer than the half: wraps
    assert wrapped.shape == (7000,) and wrapped.min() >= 5000


def test_noise_dir_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="noise directory not found"):
        NoiseBank(tmp_path / "nope")
    (tmp_path / "readme.txt").write_text("no audio here")
    with pytest.raises(ValueError, match="contains no audio files"):
        NoiseBank(tmp_path)


def test_noise_dir_recordings_are_read_by_stem_and_resampled(tmp_path):
    rate = 19980  # NOISEX-92's rate
    rng = np.random.default_rng(0)
    soundfile.write(tmp_path / "pink.wav", (0.1 * dsp.pink_noise(rate * 3, rng)).astype(np.float32), rate,
                    subtype="PCM_16")
    soundfile.write(tmp_path / "hum.wav", np.zeros((rate, 2), np.float32), rate)
    bank = NoiseBank(tmp_path)
    assert set(bank.names) == {"pink", "hum"}
    rec = bank.recording("pink")
    assert rec.dtype == np.float32 and abs(rec.shape[0] - 48000) <= 1
    with pytest.raises(ValueError, match="silent"):
        bank.recording("hum")
    with pytest.raises(ValueError, match="expected one of"):
        bank.recording("babble")


def test_builtin_pink_noise_is_exactly_one_over_f(tmp_path):
    rec = NoiseBank(cache_dir=tmp_path).recording("pink")
    f, psd = signal.welch(rec, fs=16000, nperseg=4096)
    keep = (f > 50) & (f < 7000)
    slope = np.polyfit(np.log10(f[keep]), np.log10(psd[keep]), 1)[0]
    assert abs(slope + 1.0) < 0.05
    assert set(NoiseBank().names) == set(NOISE_TYPES)


def test_builtin_f16_has_strong_tones(tmp_path):
    rec = NoiseBank(cache_dir=tmp_path).recording("f16")
    f, psd = signal.welch(rec, fs=16000, nperseg=4096)
    tone = psd[np.argmin(np.abs(f - 2500))]
    around = np.median(psd[(f > 2000) & (f < 3000)])
    assert tone > 30 * around


def test_segment_offset_and_segment_at_reproduce_noise_segment():
    from audiodata.mixing import segment_at, segment_offset
    recording = np.arange(10001, dtype=np.float32)  # odd length: the halves are 5000 samples, the last is unused
    for n, part in [(1200, "test"), (1200, "train"), (7000, "test"), (5000, "train")]:
        for i in range(20):
            offset = segment_offset(recording.shape[0], n, np.random.default_rng(i), part)
            begin = 0 if part == "train" else 5000
            assert begin <= offset < begin + 5000
            segment = segment_at(recording, offset, n, part)
            np.testing.assert_array_equal(segment, noise_segment(recording, n, np.random.default_rng(i), part))
            assert segment[0] == offset and segment.max() < begin + 5000
    with pytest.raises(ValueError, match=r"noise offset: expected 5000 <= offset < 10000 \(the test half"):
        segment_at(recording, 100, 10, "test")
