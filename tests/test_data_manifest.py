"""The mixing manifest (Splits.mixtures), rebuilding a noisy set from it, and releasing the noisy sets'
disk with identical features when they are extracted again."""
import csv

import numpy as np
import pytest

from audiodata import FEATURES, MIXTURE_FIELDS, SNRS_DB, extract, load_splits, rebuild_noisy
from audiodata.extract import noise_rng
from audiodata.mixing import measured_snr, mix_at_snr, noise_segment

NOISES = ["factory1", "pink"]


@pytest.fixture(scope="module")
def splits(tmp_path_factory):
    return load_splits(cache_dir=tmp_path_factory.mktemp("cache"), seed=4, clips_per_class=1, noises=NOISES,
                       test_fold=3, workers=2, progress=False)


def csv_roundtrip(rows, path):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=MIXTURE_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_manifest_rows_say_how_each_clip_was_mixed(splits):
    recording = splits.noises.recording("pink")
    half = recording.shape[0] // 2
    by_snr = {snr: splits.mixtures("pink", snr) for snr in SNRS_DB}
    for snr, rows in by_snr.items():
        assert [tuple(r) for r in rows] == [MIXTURE_FIELDS] * len(splits.test)
        assert [r["clip"] for r in rows] == splits.test.names
        assert [r["label"] for r in rows] == splits.test.labels.tolist()
        assert {(r["seed"], r["test_fold"], r["noise"], r["noise_file"], r["noise_fingerprint"], r["snr_db"])
                for r in rows} == {(4, 3, "pink", "built-in", splits.noises.fingerprint("pink"), float(snr))}
        for k, (clip, r) in enumerate(zip(splits.test_clips, rows)):
            # independently: the clip's seeded segment of the recording's test half, mixed at the SNR
            wave = clip.waveform()
            segment = noise_segment(recording, wave.shape[0], noise_rng(4, "pink", k), part="test")
            assert r["clip_samples"] == wave.shape[0] and half <= r["noise_offset"] < 2 * half
            np.testing.assert_array_equal(segment, recording[r["noise_offset"]:r["noise_offset"] + wave.shape[0]])
            assert r["noise_offset_s"] == pytest.approx(r["noise_offset"] / FEATURES.sample_rate, abs=1e-6)
            assert r["measured_snr_db"] == pytest.approx(measured_snr(wave, mix_at_snr(wave, segment, snr)), abs=1e-9)
            assert abs(r["measured_snr_db"] - snr) < 0.01
    offsets = {snr: [r["noise_offset"] for r in rows] for snr, rows in by_snr.items()}
    assert all(o == offsets[0] for o in offsets.values())  # one segment per clip serves every SNR
    assert offsets[0] != [r["noise_offset"] for r in splits.mixtures("factory1", 0)]


def test_a_noisy_set_rebuilt_from_its_manifest_has_the_same_features(splits, tmp_path):
    for noise, snr in [("pink", 5), ("factory1", 0)]:
        rows = csv_roundtrip(splits.mixtures(noise, snr), tmp_path / "mixtures.csv")
        rebuilt = rebuild_noisy(rows, splits.test_clips, splits.noises)
        noisy = splits.noisy_test(noise, snr)
        assert rebuilt.names == noisy.names and rebuilt.labels.tolist() == noisy.labels.tolist()
        np.testing.assert_allclose(rebuilt.features.numpy(), noisy.features.numpy(), atol=1e-6)
    rows = splits.mixtures("pink", 5)
    with pytest.raises(ValueError, match="not among the 0 clips given"):
        rebuild_noisy(rows, [], splits.noises)
    with pytest.raises(ValueError, match="made with a recording of fingerprint 0123"):
        rebuild_noisy([dict(rows[0], noise_fingerprint="0123")], splits.test_clips, splits.noises)
    with pytest.raises(ValueError, match="SNR after mixing"):
        rebuild_noisy([dict(rows[0], snr_db=6)], splits.test_clips, splits.noises)


def test_release_frees_the_disk_and_extracting_again_gives_identical_features(splits, monkeypatch):
    first = {(n, s): splits.noisy_test(n, s).features.numpy() for n in NOISES for s in SNRS_DB}
    per_set = len(splits.test) * FEATURES.n_mels * FEATURES.n_frames * 4
    assert per_set <= splits.noisy_bytes() / (len(NOISES) * len(SNRS_DB)) < per_set + 1024  # + .npy header
    manifests = {(n, s): splits.mixtures(n, s) for n in NOISES for s in SNRS_DB}
    with monkeypatch.context() as m:  # read from the cache: nothing extracted, the same arrays
        m.setattr(extract, "extract_noisy", lambda *a, **k: pytest.fail("extracted again"))
        for (n, s), features in first.items():
            np.testing.assert_array_equal(splits.noisy_test(n, s).features.numpy(), features)
        freed = splits.release_noisy()
        assert freed > len(NOISES) * len(SNRS_DB) * per_set and splits.noisy_bytes() == 0
        assert splits.mixtures("pink", 10) == manifests["pink", 10]  # the manifests stay
    for (n, s), features in first.items():  # extracted again after the release: bit-identical
        np.testing.assert_array_equal(splits.noisy_test(n, s).features.numpy(), features)
        assert splits.mixtures(n, s) == manifests[n, s]


def test_a_cache_without_manifests_gets_them_by_mixing_only(splits, monkeypatch):
    splits.noisy_test("pink", 20)
    expected = splits.mixtures("pink", 20)
    for path in splits.cache_folder.glob("noisy-fold3-seed4/*/*.mix.npz"):
        path.unlink()  # as a cache written before manifests existed
    real = extract.extract_noisy
    calls = []
    monkeypatch.setattr(extract, "extract_noisy", lambda *a, **k: calls.append(k["with_features"]) or real(*a, **k))
    assert splits.mixtures("pink", 20) == expected and calls == [False]
