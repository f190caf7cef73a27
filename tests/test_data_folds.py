"""load_splits' fold, seed and noise selection: any test fold of a 10-fold run, shared data seeds, noise subsets."""
import numpy as np
import pytest

from audiodata import PAPER_NOISES, extract, fold_split, load_splits
from audiodata.synthetic_set import synthetic_clips


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


def load(cache, **kw):
    return load_splits(cache_dir=cache, clips_per_class=1, workers=1, progress=False, **kw)


@pytest.mark.parametrize("test_fold,dev_fold,expected", [
    (10, None, (10, 9, (1, 2, 3, 4, 5, 6, 7, 8))),
    (1, None, (1, 10, (2, 3, 4, 5, 6, 7, 8, 9))),
    (5, None, (5, 4, (1, 2, 3, 6, 7, 8, 9, 10))),
    (5, 2, (5, 2, (1, 3, 4, 6, 7, 8, 9, 10))),
])
def test_fold_split(test_fold, dev_fold, expected):
    assert fold_split(test_fold, dev_fold) == expected


@pytest.mark.parametrize("kw,match", [
    (dict(test_fold=0), "test_fold: expected a fold number 1-10, got 0"),
    (dict(test_fold=11), "test_fold: expected a fold number 1-10, got 11"),
    (dict(test_fold="3"), "test_fold: expected a fold number 1-10, got '3'"),
    (dict(test_fold=2.5), "test_fold: expected a fold number 1-10"),
    (dict(test_fold=4, dev_fold=4), "dev_fold: expected a fold other than the test fold 4, got 4"),
    (dict(dev_fold=12), "dev_fold: expected a fold number 1-10, got 12"),
])
def test_bad_folds_are_errors_before_any_extraction(tmp_path, monkeypatch, kw, match):
    monkeypatch.setattr(extract, "extract_clean", lambda *a, **k: pytest.fail("extracted"))
    with pytest.raises(ValueError, match=match):
        load(tmp_path, **kw)


def test_every_test_fold_holds_its_clips_and_shares_the_clean_features(cache):
    paper = load(cache, seed=2)
    assert (paper.test_fold, paper.dev_fold, paper.train_folds) == (10, 9, (1, 2, 3, 4, 5, 6, 7, 8))
    clips = {c.name: c for c in synthetic_clips(2, 1)}
    by_name = {n: paper.train.features[i] for i, n in enumerate(paper.train.names)}
    by_name.update({n: paper.dev.features[i] for i, n in enumerate(paper.dev.names)})
    by_name.update({n: paper.test.features[i] for i, n in enumerate(paper.test.names)})
    fingerprints = {paper.fingerprint}
    for k in (1, 4):
        s = load(cache, seed=2, test_fold=k)
        dev = 10 if k == 1 else k - 1
        assert (s.test_fold, s.dev_fold) == (k, dev) and k not in s.train_folds and dev not in s.train_folds
        assert {clips[n].fold for n in s.test.names} == {k} and {clips[n].fold for n in s.dev.names} == {dev}
        assert {clips[n].fold for n in s.train.names} == set(s.train_folds) and len(s.train) == 80
        assert [c.name for c in s.test_clips] == s.test.names
        assert f"(folds {', '.join(map(str, s.train_folds)) if k == 4 else '2-9'} / {dev} / {k})" in s.describe()
        for ds in (s.train, s.dev, s.test):  # the same clean features whichever fold they play
            for i, n in enumerate(ds.names):
                np.testing.assert_array_equal(ds.features[i].numpy(), by_name[n].numpy())
        fingerprints.add(s.fingerprint)
    fingerprints.add(load(cache, seed=2, test_fold=10, dev_fold=3).fingerprint)
    assert len(fingerprints) == 4  # a classifier trained on other folds is another classifier


def test_data_seed_keeps_the_clips_while_seed_moves_the_noise(cache):
    a = load(cache, seed=5, data_seed=2, noises=["pink"])
    b = load(cache, seed=2, noises=["pink"])
    assert a.test.names == b.test.names and a.fingerprint != b.fingerprint
    np.testing.assert_array_equal(a.train.features.numpy(), b.train.features.numpy())
    assert "seed 2," in a.describe() and a.seed == 5
    offsets_a = [r["noise_offset"] for r in a.mixtures("pink", 10)]
    offsets_b = [r["noise_offset"] for r in b.mixtures("pink", 10)]
    assert offsets_a != offsets_b


def test_noise_selection(cache, monkeypatch):
    assert PAPER_NOISES == ("babble", "f16", "factory1", "factory2", "leopard", "pink", "destroyer")
    assert load(cache, seed=2).noise_names == PAPER_NOISES
    s = load(cache, seed=2, noises=["Pink", "BABBLE"])
    assert s.noise_names == ("pink", "babble")
    assert load(cache, seed=2, noises="f16, pink").noise_names == ("f16", "pink")
    assert load(cache, seed=2, noises=["paper"]).noise_names == PAPER_NOISES
    with pytest.raises(ValueError, match="expected one of pink, babble"):
        s.noisy_test("f16", 5)
    monkeypatch.setattr(extract, "extract_clean", lambda *a, **k: pytest.fail("extracted"))
    with pytest.raises(ValueError, match=r"noise: expected one of babble, f16, .*, destroyer \(built-in noises\), "
                                         r"got 'traffic'"):
        load(cache, seed=9, noises=["pink", "traffic"])
    with pytest.raises(ValueError, match="each noise once, got pink"):
        load(cache, seed=9, noises=["pink", "PINK"])
    with pytest.raises(ValueError, match="at least one"):
        load(cache, seed=9, noises=[])
