"""The features: shape, range, framing, and the log-Mel reading against a direct librosa computation (the mel
readings: tests/test_data_readings.py)."""
import librosa
import numpy as np
import pytest
import soundfile

from audiodata import FEATURES, features_from_file, features_from_waveform


def direct_features(wave):
    """Independent reference: librosa.feature.melspectrogram, dB by hand, min-max by hand."""
    y = np.zeros(64000, np.float32)
    y[: min(len(wave), 64000)] = wave[:64000]
    mel = librosa.feature.melspectrogram(y=y, sr=16000, n_fft=512, hop_length=256, window="hamming",
                                         center=False, power=1.0, n_mels=40)
    assert mel.shape == (40, 249)  # uncentered framing of 64000 samples
    mel = mel[:, :248]
    db = 20 * np.log10(np.maximum(mel, 1e-5))
    db = np.maximum(db, db.max() - 80.0)
    return (db - db.min()) / (db.max() - db.min())


@pytest.mark.parametrize("n", [64000, 20000, 90000])
def test_features_match_direct_librosa_computation(n):
    rng = np.random.default_rng(n)
    t = np.arange(n) / 16000
    wave = (0.3 * np.sin(2 * np.pi * 700 * t) * (1 + np.sin(2 * np.pi * 2 * t))
            + 0.05 * rng.standard_normal(n)).astype(np.float32)
    got = features_from_waveform(wave, 16000, FEATURES)  # the log-Mel reading
    assert got.shape == (FEATURES.n_mels, FEATURES.n_frames) == (40, 248)
    assert got.dtype == np.float32
    assert got.min() == 0.0 and got.max() == 1.0
    np.testing.assert_allclose(got, direct_features(wave), atol=1e-5)


def test_long_clip_is_cut_and_short_clip_is_zero_padded():
    rng = np.random.default_rng(1)
    wave = rng.standard_normal(80000).astype(np.float32)
    np.testing.assert_array_equal(features_from_waveform(wave, 16000), features_from_waveform(wave[:64000], 16000))
    short = wave[:8000]
    padded = np.concatenate([short, np.zeros(56000, np.float32)])
    np.testing.assert_array_equal(features_from_waveform(short, 16000), features_from_waveform(padded, 16000))
    # the padding sits at the floor: top_db below the maximum, i.e. 0 after normalization
    assert np.all(features_from_waveform(short, 16000)[:, 40:] == 0.0)


def test_silent_clip_gives_zeros_and_bad_shape_is_rejected():
    assert not np.any(features_from_waveform(np.zeros(1000, np.float32), 16000))
    with pytest.raises(ValueError, match="1-D"):
        features_from_waveform(np.zeros((2, 1000), np.float32), 16000)


def test_other_sample_rate_is_resampled(tmp_path):
    t = np.arange(44100 * 2) / 44100
    wave = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    t16 = np.arange(16000 * 2) / 16000
    ref = features_from_waveform((0.5 * np.sin(2 * np.pi * 1000 * t16)).astype(np.float32), 16000)
    got = features_from_waveform(wave, 44100)
    assert np.mean(np.abs(got - ref)) < 0.01
    path = tmp_path / "tone.wav"
    soundfile.write(path, np.stack([wave, wave], axis=1), 44100, subtype="PCM_24")
    np.testing.assert_allclose(features_from_file(path), got, atol=1e-3)
