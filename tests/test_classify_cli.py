"""experiments/classify.py on folders as people have them: audio mixed with other files, broken files,
top-k classes and the CSV of the predictions."""
import csv

import numpy as np
import pytest
import soundfile
import torch

import audiodata
from deployment import trained_model

from helpers.train_cli import run


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Two good clips (one in a subfolder, FLAC), a WAV cut to 30 bytes, and a text file."""
    root = tmp_path_factory.mktemp("clips")
    (root / "sub").mkdir()
    rng = np.random.default_rng(0)
    soundfile.write(root / "noise.wav", rng.normal(0, 0.1, 16000 * 3), 16000)
    soundfile.write(root / "sub" / "tone.flac", 0.3 * np.sin(np.arange(22050 * 2) / 7), 22050)
    (root / "sub" / "broken.wav").write_bytes((root / "noise.wav").read_bytes()[:30])
    (root / "notes.txt").write_text("not audio\n")
    return root


def expected_top(run_dir, path, k):
    """(class, probability) of the k best classes with the checkpoint's model run here in eager mode."""
    trained = trained_model.load(trained_model.find(run_dir, None))
    x = torch.from_numpy(audiodata.features_from_file(path, audiodata.feature_config(trained.features)))[None, None]
    with torch.no_grad():
        p = torch.softmax(trained.model(x), 1)[0]
    return [(trained.class_names[i], float(p[i])) for i in p.topk(k).indices]


@pytest.mark.slow
def test_folder_with_broken_and_non_audio_files(tiny_run, folder, tmp_path):
    table = tmp_path / "predictions.csv"
    proc = run("classify.py", "--checkpoint", tiny_run, "--top-k", "3", "--csv", table, folder, folder / "notes.txt")
    assert proc.returncode == 1, proc.stderr[-3000:]  # some file could not be read
    assert "Traceback" not in proc.stderr

    good = [folder / "noise.wav", folder / "sub" / "tone.flac"]
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith("# sfe (small config)")
    for path, line in zip(good, lines[1:3]):
        want = expected_top(tiny_run, path, 3)
        assert line == f"{path}: " + " | ".join(f"{c} (p = {p:.3f})" for c, p in want)
    assert lines[3].startswith("# classified 2 of 4 files; 2 could not be read")
    assert "1 file(s) in the folders passed over" in lines[3]  # notes.txt inside the folder: not audio by name

    errors = proc.stderr.strip().splitlines()
    assert len(errors) == 2
    assert errors[0].startswith(f"{folder / 'sub' / 'broken.wav'}: skipped, unreadable")
    assert errors[1].startswith(f"{folder / 'notes.txt'}: skipped, unreadable")  # named explicitly: tried

    with open(table, newline="") as f:
        rows = list(csv.DictReader(f))
    order = [good[0], folder / "sub" / "broken.wav", good[1], folder / "notes.txt"]  # the order they were read
    assert [r["file"] for r in rows] == [str(p) for p in order]
    for path, row in zip(order, rows):
        if path in good:
            want = expected_top(tiny_run, path, 3)
            assert row["status"] == "ok" and row["error"] == ""
            assert [row[f"class_{i}"] for i in (1, 2, 3)] == [c for c, _ in want]
            assert [float(row[f"p_{i}"]) for i in (1, 2, 3)] == pytest.approx([p for _, p in want], abs=1e-6)
        else:
            assert row["status"] == "error" and "unreadable" in row["error"] and row["class_1"] == ""


@pytest.mark.slow
def test_feeding_the_model_another_feature_reading_is_refused(tiny_run, folder):
    reading = trained_model.load(trained_model.find(tiny_run, None)).features
    assert reading == audiodata.feature_reading(None)  # trained with train.py's default reading, recorded
    other = "mel-power" if reading == "logmel" else "logmel"
    proc = run("classify.py", "--checkpoint", tiny_run, "--features", other, folder / "noise.wav")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"trained on the {reading} reading and must be fed {reading} features" in proc.stderr
    same = run("classify.py", "--checkpoint", tiny_run, "--features", reading, folder / "noise.wav")
    assert same.returncode == 0 and f"on {reading} features from" in same.stdout.splitlines()[0]


@pytest.mark.slow
@pytest.mark.parametrize("args, message", [
    (["--top-k", "0", "{good}"], "--top-k must be >= 1, got 0"),
    (["{missing}"], "no such file or folder"),
    (["{empty}"], "holds no audio files"),
    (["--csv", "/no/such/dir/p.csv", "{good}"], "--csv: folder /no/such/dir does not exist"),
    (["--out", "/no/such/dir/p.csv", "{good}"], "--out: folder /no/such/dir does not exist"),
    (["--hop", "0", "{good}"], "--hop must be > 0 seconds, got 0.0"),
])
def test_user_mistakes_exit_2_with_one_line(tiny_run, folder, tmp_path, args, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.md").write_text("x")
    paths = dict(good=folder / "noise.wav", missing=tmp_path / "missing.wav", empty=tmp_path / "empty")
    proc = run("classify.py", "--checkpoint", tiny_run, *(a.format(**paths) for a in args))
    assert proc.returncode == 2
    assert message in proc.stderr and proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr
