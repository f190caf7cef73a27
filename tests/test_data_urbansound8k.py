"""The UrbanSound8K loader on a small tree in mixed encodings, written here."""
import csv
import warnings

import numpy as np
import pytest
import soundfile

import audiodata
from audiodata import extract, features_from_file, load_splits, read_audio
from audiodata.io import AudioReadError

# (file, fold, classID, sample rate, subtype, channels, seconds)
GOOD = [
    ("u8_8k.wav", 1, 0, 8000, "PCM_U8", 1, 4.0),
    ("s16_22k_stereo.wav", 1, 1, 22050, "PCM_16", 2, 1.5),
    ("s24_44k.wav", 2, 2, 44100, "PCM_24", 1, 4.0),
    ("s32_48k_stereo.wav", 3, 3, 48000, "PCM_32", 2, 0.3),
    ("float_96k.wav", 9, 4, 96000, "FLOAT", 1, 2.0),
    ("s24_11k_stereo.wav", 10, 5, 11025, "PCM_24", 2, 4.0),
    ("float_32k.wav", 10, 6, 32000, "FLOAT", 1, 3.0),
]
BAD = [("corrupt.wav", 4, 7), ("empty.wav", 10, 8)]
MISSING = [("missing.wav", 5, 9)]


def tone(rate, seconds, channels, freq=440.0):
    t = np.arange(int(rate * seconds)) / rate
    x = 0.5 * np.sin(2 * np.pi * freq * t)
    return x if channels == 1 else np.stack([x, 0.5 * x], axis=1)


def write_tree(parent):
    root = parent / "UrbanSound8K"
    for fold in range(1, 11):
        (root / "audio" / f"fold{fold}").mkdir(parents=True)
    (root / "metadata").mkdir()
    for name, fold, _, rate, subtype, ch, sec in GOOD:
        soundfile.write(root / "audio" / f"fold{fold}" / name, tone(rate, sec, ch), rate, subtype=subtype)
    (root / "audio" / "fold4" / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt garbage" * 3)
    (root / "audio" / "fold10" / "empty.wav").write_bytes(b"")
    with open(root / "metadata" / "UrbanSound8K.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class"])
        for name, fold, label, *rest in GOOD + BAD + MISSING:
            seconds = rest[-1] if rest else 4.0
            w.writerow([name, 1, 0.5, 0.5 + seconds, 1, fold, label, audiodata.CLASS_NAMES[label]])
    return root


@pytest.mark.parametrize("rate,subtype,channels,tol", [
    (8000, "PCM_U8", 1, 0.02), (22050, "PCM_16", 2, 2e-3), (44100, "PCM_24", 1, 2e-3),
    (48000, "PCM_32", 2, 2e-3), (96000, "FLOAT", 1, 2e-3), (11025, "PCM_24", 2, 2e-3)])
def test_read_audio_any_encoding_to_16k_mono(tmp_path, rate, subtype, channels, tol):
    path = tmp_path / "x.wav"
    soundfile.write(path, tone(rate, 1.0, channels), rate, subtype=subtype)
    got = read_audio(path, 16000)
    expected = tone(16000, 1.0, 1) * (0.75 if channels == 2 else 1.0)  # channel mean of x and x/2
    assert got.dtype == np.float32 and got.shape == expected.shape
    inner = slice(200, -200)  # the resampler's edges
    assert np.max(np.abs(got[inner] - expected[inner])) < tol


def test_unreadable_and_empty_files_raise_with_reason(tmp_path):
    (tmp_path / "bad.wav").write_bytes(b"not audio at all")
    with pytest.raises(AudioReadError, match="unreadable"):
        read_audio(tmp_path / "bad.wav", 16000)
    soundfile.write(tmp_path / "zero.wav", np.zeros((0,), np.float32), 16000)
    with pytest.raises(AudioReadError, match="empty"):
        read_audio(tmp_path / "zero.wav", 16000)


def test_loader_on_mixed_encoding_tree_skips_bad_files_and_caches(tmp_path, monkeypatch):
    root = write_tree(tmp_path / "data")
    with pytest.warns(UserWarning, match=r"3 audio file\(s\) skipped") as record:
        splits = load_splits(tmp_path / "data", cache_dir=tmp_path / "cache", workers=2, progress=False)
    message = str(record[0].message)
    assert "corrupt.wav" in message and "empty.wav" in message and "missing.wav" in message
    assert sorted(n for n, _ in splits.skipped) == ["fold10/empty.wav", "fold4/corrupt.wav", "fold5/missing.wav"]
    assert "3 file(s) skipped" in splits.describe()
    assert (len(splits.train), len(splits.dev), len(splits.test)) == (4, 1, 2)
    expected = {f"fold{fold}/{name}": (label, root / "audio" / f"fold{fold}" / name)
                for name, fold, label, *_ in GOOD}
    for ds in (splits.train, splits.dev, splits.test):
        for i, name in enumerate(ds.names):
            x, y = ds[i]
            label, path = expected[name]
            assert y == label and x.shape == (1, 40, 248)
            np.testing.assert_allclose(x[0].numpy(), features_from_file(path), atol=1e-6)

    # second run: nothing is extracted again, same data, the skips are reported again
    monkeypatch.setattr(extract, "extract_clean", lambda *a, **k: pytest.fail("extracted again"))
    with pytest.warns(UserWarning, match=r"3 audio file\(s\) skipped"):
        again = load_splits(root, cache_dir=tmp_path / "cache", workers=2, progress=False)
    assert again.fingerprint == splits.fingerprint
    np.testing.assert_array_equal(again.train.features.numpy(), splits.train.features.numpy())
    # another seed is another fingerprint (another classifier), but the same clean features
    with pytest.warns(UserWarning):
        other_seed = load_splits(root, cache_dir=tmp_path / "cache", seed=1, progress=False)
    assert other_seed.fingerprint != splits.fingerprint
    np.testing.assert_array_equal(other_seed.test.features.numpy(), splits.test.features.numpy())


def test_missing_metadata_or_audio_folder_names_the_expected_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"metadata[/\\]UrbanSound8K\.csv"):
        load_splits(tmp_path, cache_dir=tmp_path / "cache")
    (tmp_path / "metadata").mkdir()
    (tmp_path / "metadata" / "UrbanSound8K.csv").write_text("slice_file_name,fold,classID\n")
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "audio")):
        load_splits(tmp_path, cache_dir=tmp_path / "cache")


def test_clips_per_class_is_rejected_for_real_data(tmp_path):
    write_tree(tmp_path)
    with pytest.raises(ValueError, match="clips_per_class"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            load_splits(tmp_path, cache_dir=tmp_path / "cache", clips_per_class=3)


def test_noisy_test_with_a_real_noise_dir(tmp_path):
    write_tree(tmp_path / "data")
    noise_dir = tmp_path / "noises"
    noise_dir.mkdir()
    rng = np.random.default_rng(0)
    soundfile.write(noise_dir / "pink.wav", 0.1 * rng.standard_normal(19980 * 10), 19980, subtype="PCM_16")
    with pytest.warns(UserWarning):
        # the log-Mel reading, where 0 dB white-ish noise moves the features by more than 0.05 on average (on the
        # power Mel reading most bins stay near zero: the threshold would be another one)
        splits = load_splits(tmp_path / "data", noise_dir=noise_dir, cache_dir=tmp_path / "cache", workers=1,
                             progress=False, features="logmel")
    assert splits.noises.names == ("pink",)
    noisy = splits.noisy_test("pink", 0)
    assert noisy.features.shape == splits.test.features.shape == (2, 40, 248)
    assert noisy.names == splits.test.names
    assert np.mean(np.abs(noisy.features.numpy() - splits.test.features.numpy())) > 0.05
    with pytest.raises(ValueError, match="expected one of pink"):
        splits.noisy_test("babble", 0)


def write_truncation_tree(parent, columns=("slice_file_name", "fsID", "start", "end", "salience", "fold", "classID",
                                           "class")):
    """Clips cut short as broken downloads leave them, next to whole ones; (name, fold, label, seconds, kept)."""
    root = parent / "UrbanSound8K"
    for fold in range(1, 11):
        (root / "audio" / f"fold{fold}").mkdir(parents=True)
    (root / "metadata").mkdir()
    whole = parent / "whole.wav"
    soundfile.write(whole, tone(22050, 4.0, 2), 22050, subtype="PCM_16")
    data = whole.read_bytes()
    files = [  # (name, fold, label, metadata seconds, bytes, kept)
        ("whole.wav", 1, 0, 4.0, data, True),
        ("first100bytes.wav", 1, 1, 4.0, data[:100], False),
        ("cut30.wav", 2, 2, 4.0, data[:int(0.3 * len(data))], False),
        ("cut70.wav", 10, 3, 4.0, data[:int(0.7 * len(data))], True),
        ("short_but_whole.wav", 9, 4, 0.25, None, True),
    ]
    rows = []
    for name, fold, label, seconds, content, _ in files:
        path = root / "audio" / f"fold{fold}" / name
        if content is None:
            soundfile.write(path, tone(44100, seconds, 1), 44100)
        else:
            path.write_bytes(content)
        row = {"slice_file_name": name, "fsID": 7, "start": 12.0, "end": 12.0 + seconds, "salience": 1,
               "fold": fold, "classID": label, "class": audiodata.CLASS_NAMES[label]}
        rows.append([row[c] for c in columns])
    with open(root / "metadata" / "UrbanSound8K.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(columns)
        w.writerows(rows)
    return files


def test_truncated_files_are_skipped_with_their_reason(tmp_path):
    files = write_truncation_tree(tmp_path / "data")
    assert read_audio(tmp_path / "data" / "UrbanSound8K" / "audio" / "fold1" / "first100bytes.wav", 16000).shape[0] < 50
    with pytest.warns(UserWarning, match=r"2 audio file\(s\) skipped") as record:
        splits = load_splits(tmp_path / "data", cache_dir=tmp_path / "cache", workers=1, progress=False)
    skipped = dict(splits.skipped)
    assert sorted(skipped) == ["fold1/first100bytes.wav", "fold2/cut30.wav"]
    assert skipped["fold1/first100bytes.wav"].startswith("truncated: decodes to 0.00")
    assert "the metadata says 4.000 s (end - start)" in skipped["fold2/cut30.wav"]
    assert "truncated" in str(record[0].message)
    kept = sorted(f"fold{fold}/{name}" for name, fold, _, _, _, ok in files if ok)
    assert sorted(splits.train.names + splits.dev.names + splits.test.names) == kept


def test_metadata_without_start_and_end_keeps_every_decodable_file(tmp_path):
    write_truncation_tree(tmp_path / "data", columns=("slice_file_name", "fold", "classID"))
    splits = load_splits(tmp_path / "data", cache_dir=tmp_path / "cache", workers=1, progress=False)
    assert splits.skipped == [] and len(splits.train) == 3  # the 100-byte file decodes to a few samples


def test_malformed_start_or_end_is_an_error_with_the_line(tmp_path):
    root = write_tree(tmp_path)
    meta = root / "metadata" / "UrbanSound8K.csv"
    lines = meta.read_text().splitlines()
    lines[3] = lines[3].replace(",0.5,", ",soon,", 1)
    meta.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"line 4: columns 'start' and 'end' expected numbers of seconds, got 'soon'"):
        load_splits(tmp_path, cache_dir=tmp_path / "cache")
