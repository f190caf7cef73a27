"""The built-in synthetic set: generators, determinism, splits, noisy test sets, cache reuse."""
import numpy as np
import pytest

import audiodata
from audiodata import CLASS_NAMES, NOISE_TYPES, SNRS_DB, extract, features_from_waveform, load_splits
from audiodata.extract import noise_rng
from audiodata.mixing import measured_snr, mix_at_snr, noise_segment
from audiodata.synthetic import generate_clip
from audiodata.synthetic_set import synthetic_clips


@pytest.fixture(scope="module")
def splits(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    return load_splits(cache_dir=cache, seed=3, clips_per_class=1, workers=2, progress=False)


@pytest.mark.parametrize("label", range(10))
def test_every_class_generator_gives_a_plausible_deterministic_clip(label):
    a = generate_clip(label, (0, 1, label, 0))
    np.testing.assert_array_equal(a, generate_clip(label, (0, 1, label, 0)))
    b = generate_clip(label, (0, 1, label, 1))
    assert a.dtype == np.float32 and np.all(np.isfinite(a))
    assert 8000 <= a.shape[0] <= 64000 and 0 < np.max(np.abs(a)) <= 1.0
    assert not (a.shape == b.shape and np.allclose(a, b))


def test_clip_list_has_ten_folds_of_ten_balanced_classes():
    clips = synthetic_clips(seed=0, clips_per_class=2)
    assert len(clips) == 200 and len({c.name for c in clips}) == 200
    for fold in range(1, 11):
        labels = [c.label for c in clips if c.fold == fold]
        assert sorted(labels) == sorted(list(range(10)) * 2)
    with pytest.raises(ValueError, match="clips_per_class"):
        synthetic_clips(0, 0)


def test_splits_follow_the_fold_protocol(splits):
    assert (len(splits.train), len(splits.dev), len(splits.test)) == (80, 10, 10)
    assert splits.class_names == list(CLASS_NAMES)
    x, y = splits.train[0]
    assert x.shape == (1, 40, 248) and x.dtype.is_floating_point and isinstance(y, int)
    assert float(x.min()) >= 0 and float(x.max()) <= 1
    assert sorted(int(splits.test[i][1]) for i in range(10)) == list(range(10))
    assert "train 80, dev 10, test 10" in splits.describe()


def test_same_seed_same_data_other_seed_other_data(splits):
    # regenerate the dev fold from scratch: identical to the cached one; another seed differs
    dev_clips = [c for c in synthetic_clips(3, 1) if c.fold == 9]
    fresh = np.stack([f for f, _ in extract.extract_clean(dev_clips, workers=1, progress=False)])
    np.testing.assert_array_equal(fresh, splits.dev.features.numpy())
    other_clips = [c for c in synthetic_clips(4, 1) if c.fold == 9]
    other = np.stack([f for f, _ in extract.extract_clean(other_clips, workers=1, progress=False)])
    assert not np.allclose(other, splits.dev.features.numpy())


def test_noisy_test_is_the_test_clips_mixed_at_the_snr(splits):
    noisy = splits.noisy_test("pink", 5)
    assert len(noisy) == len(splits.test) and noisy.names == splits.test.names
    assert np.array_equal(noisy.labels.numpy(), splits.test.labels.numpy())
    recording = splits.noises.recording("pink")
    test_clips = [c for c in synthetic_clips(3, 1) if c.fold == 10]
    for i in (0, 7):
        wave = test_clips[i].waveform()
        seg = noise_segment(recording, wave.shape[0], noise_rng(3, "pink", i), part="test")
        mix = mix_at_snr(wave, seg, 5)
        assert abs(measured_snr(wave, mix) - 5) < 0.1
        np.testing.assert_allclose(noisy[i][0][0].numpy(), features_from_waveform(mix, 16000), atol=1e-6)
    assert not np.allclose(noisy.features.numpy(), splits.test.features.numpy())


def test_noisy_test_is_cached_for_all_noises_and_snrs_and_validates(splits, monkeypatch):
    first = splits.noisy_test("factory2", 0)
    monkeypatch.setattr(extract, "extract_noisy", lambda *a, **k: pytest.fail("extracted again"))
    np.testing.assert_array_equal(splits.noisy_test("factory2", 0).features.numpy(), first.features.numpy())
    for noise in NOISE_TYPES:
        for snr in SNRS_DB:
            assert len(splits.noisy_test(noise, snr)) == len(splits.test)
    with pytest.raises(ValueError, match="finite number"):
        splits.noisy_test("factory2", float("nan"))
    with pytest.raises(ValueError, match="expected one of"):
        splits.noisy_test("traffic", 0)


def test_clean_cache_is_reused_without_extraction(splits, monkeypatch):
    monkeypatch.setattr(extract, "extract_clean", lambda *a, **k: pytest.fail("extracted again"))
    again = load_splits(cache_dir=splits.cache_folder.parent, seed=3, clips_per_class=1, progress=False)
    np.testing.assert_array_equal(again.train.features.numpy(), splits.train.features.numpy())


def test_seeded_loader_order(splits):
    def order(seed):
        return [int(y) for _, ys in audiodata.make_loader(splits.train, 16, shuffle=True, seed=seed) for y in ys]
    assert order(1) == order(1) and order(1) != order(2)
