"""The feature readings and SNR references of issue 21: values against independent computations, their cache
keys, the manifest's SNR reference, a rebuilt noisy set bit-identical, the dev sets with training noises."""
import librosa
import numpy as np
import pytest

from audiodata import FEATURE_READINGS, FEATURES, feature_config, features_from_waveform, load_splits, rebuild_noisy
from audiodata.extract import mix_clip
from audiodata.mixing import segment_at
from audiodata.readings import MEL, feature_reading, snr_reference


def wave_of(n, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 16000
    return (0.3 * np.sin(2 * np.pi * 900 * t) * (1 + np.sin(2 * np.pi * 3 * t))
            + 0.02 * rng.standard_normal(n)).astype(np.float32)


@pytest.mark.parametrize("reading, power", [("mel-magnitude", 1.0), ("mel-power", 2.0)])
def test_mel_readings_are_the_filterbank_output_min_max_normalized(reading, power):
    wave = wave_of(30000)
    y = np.zeros(64000, np.float32)
    y[:30000] = wave
    mel = librosa.feature.melspectrogram(y=y, sr=16000, n_fft=512, hop_length=256, window="hamming", center=False,
                                         power=power, n_mels=40)[:, :248]
    want = (mel - mel.min()) / (mel.max() - mel.min())  # no logarithm
    got = features_from_waveform(wave, 16000, feature_config(reading))
    assert got.shape == (40, 248) and got.dtype == np.float32 and got.min() == 0.0 and got.max() == 1.0
    np.testing.assert_allclose(got, want, atol=2e-6)
    # the zero padding is exactly the minimum: no floor lifts it, unlike the log-Mel reading's 80 dB floor
    assert got[:, -10:].max() == 0.0
    assert features_from_waveform(wave, 16000, feature_config("logmel"))[:, -10:].min() == 0.0


def test_reading_names_and_cache_keys():
    assert feature_reading(None) in FEATURE_READINGS and feature_reading("MEL") == MEL
    assert feature_config("logmel") == FEATURES
    # the log-Mel reading keeps the cache key (parameter dict) it had before there were readings
    assert "compression" not in FEATURES.as_dict()
    assert len({str(c.as_dict()) for c in FEATURE_READINGS.values()}) == len(FEATURE_READINGS)
    with pytest.raises(ValueError, match="features: expected one of mel, logmel, mel-magnitude, mel-power, got 'db'"):
        feature_reading("db")
    with pytest.raises(ValueError, match="snr_reference: expected one of clip, segment, got 'file'"):
        snr_reference("file")


def test_segment_reference_measures_the_snr_over_the_padded_4_s_and_fills_it_with_noise():
    clip = wave_of(16000)  # 1 s: 3 s of zero padding in the 4 s segment
    recording = np.random.default_rng(1).standard_normal(200000).astype(np.float32)
    offset = 120000
    mixed, measured = mix_clip(clip, recording, offset, 5.0, reference="segment")
    noise = segment_at(recording, offset, 64000).astype(np.float64)
    padded = np.zeros(64000)
    padded[:16000] = clip
    gain = np.sqrt(np.sum(padded ** 2) / np.sum(noise ** 2) / 10 ** 0.5)
    np.testing.assert_allclose(mixed, padded + gain * noise, atol=1e-6)
    assert measured == pytest.approx(5.0, abs=1e-5)  # the float32 mixture
    # the clip reference: noise only over the clip's second, 5 dB over those samples
    mixed_clip, measured_clip = mix_clip(clip, recording, offset, 5.0, reference="clip")
    assert mixed_clip.shape == (16000,) and measured_clip == pytest.approx(5.0, abs=1e-5)
    # over the clip's own second the SNR is about 10*log10(4) = 6 dB higher: its power is no longer averaged with
    # 3 s of padding, and the white noise has the same power per sample everywhere
    own = 10 * np.log10(np.sum(clip.astype(np.float64) ** 2) / np.sum((mixed[:16000] - clip) ** 2))
    assert own == pytest.approx(5.0 + 10 * np.log10(4), abs=0.2)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


def test_each_reading_has_its_own_cache_and_a_rebuilt_noisy_set_is_bit_identical(cache):
    kw = dict(cache_dir=cache, seed=2, clips_per_class=1, noises=["pink"], test_fold=4, workers=1, progress=False)
    mel = load_splits(features="mel-power", snr_reference="segment", **kw)
    mel_clip = load_splits(features="mel-power", snr_reference="clip", **kw)
    assert (mel.features, mel.snr_reference) == ("mel-power", "segment")
    # the SNR reference changes no clean feature (same classifier) but has its own noisy sets
    assert mel.fingerprint == mel_clip.fingerprint and mel._noisy_folder() != mel_clip._noisy_folder()
    noisy = mel.noisy_test("pink", 0)
    rows = mel.mixtures("pink", 0)
    assert {r["snr_reference"] for r in rows} == {"segment"}
    assert {r["snr_reference"] for r in mel_clip.mixtures("pink", 0)} == {"clip"}
    rebuilt = rebuild_noisy(rows, mel.test_clips, mel.noises, features=mel.features)
    np.testing.assert_array_equal(rebuilt.features.numpy(), noisy.features.numpy())
    # and the clean features are the reading's own: the filterbank output, not its logarithm
    clip = mel.test_clips[0]
    np.testing.assert_array_equal(mel.test.features[0].numpy(),
                                  features_from_waveform(clip.waveform(), 16000, feature_config("mel-power")))


def test_dev_sets_use_training_noises_only(cache):
    splits = load_splits(cache_dir=cache, seed=2, clips_per_class=1, features="logmel", workers=1, progress=False)
    mel = load_splits(cache_dir=cache, seed=2, clips_per_class=1, features="mel-power", workers=1, progress=False)
    assert splits.cache_folder != mel.cache_folder and splits.fingerprint != mel.fingerprint
    dev = splits.noisy_dev("crowd", 10)
    assert dev.names == splits.dev.names and dev.labels.tolist() == splits.dev.labels.tolist()
    assert not np.array_equal(dev.features.numpy(), splits.dev.features.numpy())
    with pytest.raises(ValueError, match="expected one of the training noises"):
        splits.noisy_dev("pink", 10)  # a test noise is never used on dev
