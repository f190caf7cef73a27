"""Multi-condition training data: the training noise generators, the refusal of test noises, the noisy copies."""
import numpy as np
import pytest
from scipy.signal import welch

from audiodata import NOISE_TYPES, features_from_waveform, load_splits
from audiodata.mixing import measured_snr, mix_at_snr, noise_segment
from audiodata.synthetic.train_noises import TRAIN_NOISES
from audiodata.train_noise import (TRAIN_NOISE_TYPES, check_snr_range, check_train_noises, mixture_plan,
                                   noisy_train_set, train_noise_recording)

SR = 16000


def _slope_db_per_octave(x, lo=100, hi=6000):
    f, p = welch(x, SR, nperseg=1024)
    sel = (f > lo) & (f < hi)
    return np.polyfit(np.log2(f[sel]), 10 * np.log10(p[sel]), 1)[0]


@pytest.mark.parametrize("name", TRAIN_NOISE_TYPES)
def test_generators_give_finite_audio_of_the_requested_length(name):
    x = TRAIN_NOISES[name](np.random.default_rng(1), 12345, SR)
    assert x.shape == (12345,) and np.all(np.isfinite(x))
    assert np.sqrt(np.mean(x ** 2)) == pytest.approx(0.1, rel=1e-6)  # dsp.normalize_rms's level
    y = TRAIN_NOISES[name](np.random.default_rng(2), 12345, SR)
    assert not np.allclose(x, y)


@pytest.mark.parametrize("name, slope", [("white", 0.0), ("brown", -6.02), ("violet", 6.02)])
def test_coloured_noises_have_their_spectral_slope(name, slope):
    x = TRAIN_NOISES[name](np.random.default_rng(0), 4 * SR, SR)
    assert _slope_db_per_octave(x) == pytest.approx(slope, abs=0.5)


def test_hum_is_60_hz_harmonics_and_clicks_are_sparse_impulses():
    hum = TRAIN_NOISES["hum"](np.random.default_rng(0), 4 * SR, SR)
    f, p = welch(hum, SR, nperseg=8192)
    assert abs(f[np.argmax(p)] - 60) < 3  # the fundamental dominates
    assert p[np.argmin(abs(f - 120))] > 100 * p[np.argmin(abs(f - 90))]  # energy at harmonics, not between
    clicks = TRAIN_NOISES["clicks"](np.random.default_rng(0), 4 * SR, SR)
    energy = np.sort(clicks ** 2)[::-1]
    assert energy[: len(clicks) // 50].sum() > 0.9 * energy.sum()  # 2 % of the samples hold > 90 % of the energy
    assert abs(_slope_db_per_octave(clicks)) < 3  # broadband


def test_crowd_is_not_harmonic_babble():
    x = TRAIN_NOISES["crowd"](np.random.default_rng(0), 4 * SR, SR)
    f, p = welch(x, SR, nperseg=4096)
    band = (f > 100) & (f < 4000)
    # no sharp spectral lines: the largest bin is within 10x of its neighbourhood's median
    peaks = p[band] / np.array([np.median(p[band][max(0, i - 20):i + 20]) for i in range(band.sum())])
    assert peaks.max() < 10


def test_test_noises_are_refused_and_names_checked():
    for name in NOISE_TYPES:
        with pytest.raises(ValueError, match="is one of the test noises"):
            check_train_noises(["white", name])
    with pytest.raises(ValueError, match="expected names from white, brown"):
        check_train_noises(["grey"])
    with pytest.raises(ValueError, match="at least one"):
        check_train_noises([])
    with pytest.raises(ValueError, match="is one of the test noises"):
        check_train_noises(["white"], test_noises=("white", "babble"))  # a --noise-dir's names are test noises too
    assert check_train_noises(["crowd", "hum"]) == ("crowd", "hum")
    assert not set(TRAIN_NOISE_TYPES) & set(NOISE_TYPES)
    with pytest.raises(ValueError, match="LOW <= HIGH"):
        check_snr_range(("20", "0"))


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def splits(cache):
    return load_splits(cache_dir=cache, seed=5, clips_per_class=1, workers=1, progress=False)


def test_noisy_copies_are_the_training_clips_mixed_at_the_planned_snr(splits, cache):
    names, snr_range = ("white", "clicks"), (0.0, 20.0)
    noisy = noisy_train_set(splits, names, snr_range, copies=1, cache_dir=cache, workers=1, progress=False)
    assert len(noisy) == len(splits.train) == 80
    assert noisy.labels.tolist() == splits.train.labels.tolist()
    seed = int(splits.fingerprint[:12], 16)
    for i in (0, 37):  # rebuild copy 0 of two clips independently from its plan
        clip = splits.train_clips[i]
        name, snr, rng = mixture_plan(seed, i, 0, names, snr_range)
        assert name in names and 0 <= snr <= 20
        wave = clip.waveform(SR)
        seg = noise_segment(train_noise_recording(name, cache), wave.shape[0], rng, part="train")
        mixed = mix_at_snr(wave, seg, snr)
        assert measured_snr(wave, mixed) == pytest.approx(snr, abs=0.1)
        np.testing.assert_allclose(noisy[i][0][0].numpy(), features_from_waveform(mixed, SR), atol=1e-6)
        assert not np.allclose(noisy[i][0].numpy(), splits.train[i][0].numpy())
    plans = [mixture_plan(seed, i, 0, names, snr_range)[0] for i in range(80)]
    assert set(plans) == set(names)  # both noises are used
    # a second call reads the cache
    again = noisy_train_set(splits, names, snr_range, copies=1, cache_dir=cache, workers=1, progress=False)
    np.testing.assert_array_equal(again.features.numpy(), noisy.features.numpy())
