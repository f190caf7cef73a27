"""experiments/train.py end to end on the tiny synthetic set: every method, the files it writes, refusals."""
import json
import os
import stat

import matplotlib.image
import numpy as np
import pytest
import torch

import audiodata
from training.reports import results
from training.reports.paper import METHODS, TABLE1

from helpers.train_cli import run, table, train

NOISES = ("babble", "f16", "factory1", "factory2", "leopard", "pink", "destroyer")
SNRS = (20, 15, 10, 5, 0)
NAMES = {"cnn-fc": "CNN-FC", "sfe": "SFE", "dfe": "DFE", "dcl": "DCL", "dsl": "DSL"}


@pytest.fixture(scope="module")
def all_run(tmp_path_factory, train_cache):
    out = tmp_path_factory.mktemp("all") / "run"
    previous = os.umask(0o027)  # the run inherits it: test_outputs_follow_the_umask
    try:
        proc = train(out, train_cache, "--method", "all", "--epochs", "1")
    finally:
        os.umask(previous)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc


def test_every_method_writes_well_formed_results(all_run):
    out, proc = all_run
    rows = results.read_results_csv(out / "results.csv")
    assert [r["method"] for r in rows] == [m for m in METHODS for _ in range(2 + 35)]
    for m in METHODS:
        mine = [r for r in rows if r["method"] == m]
        assert [(r["split"], r["noise"]) for r in mine[:2]] == [("dev", "clean"), ("test", "clean")]
        assert {(r["noise"], r["snr_db"]) for r in mine[2:]} == {(n, float(s)) for n in NOISES for s in SNRS}
        assert all(r["n"] == 10 for r in mine)  # 1 clip per class in folds 9 and 10
        assert all(0 <= r["accuracy"] <= 1 and (r["accuracy"] * 10) % 1 < 1e-6 for r in mine)  # k / 10

    header, body = table(out / "table1.md")
    assert header == [""] + [NAMES[m] for m in METHODS] + [f"{NAMES[m]} (paper)" for m in METHODS]
    for j, m in enumerate(METHODS):
        dev, test = (next(100 * r["accuracy"] for r in rows if (r["method"], r["split"], r["noise"]) ==
                          (m, split, "clean")) for split in ("dev", "test"))
        assert [float(body[i][1 + j]) for i in range(3)] == pytest.approx([dev, test, abs(dev - test)], abs=0.006)
        assert [float(body[i][6 + j]) for i in range(3)] == list(TABLE1[m])

    header, body = table(out / "table2.md")
    assert len(header) == 2 + 14 and len(body) == 25
    for row in body:
        m = {v: k for k, v in NAMES.items()}[row[1]]
        for noise, cell in zip(NOISES, row[2:9]):
            expected = next(100 * r["accuracy"] for r in rows if r["method"] == m and r["noise"] == noise and
                            r["snr_db"] == float(row[0]))
            assert float(cell) == pytest.approx(expected, abs=0.006)

    image = matplotlib.image.imread(out / "figure3.png")
    # columns: clean over noisy, then SFE, DCL, DSL each over its mask
    assert image.ndim == 3 and image.shape[1] > 1.5 * image.shape[0]
    masks = (out / "masks.csv").read_text().splitlines()
    assert [line.split(",")[:2] for line in masks[1:]] == [[m, e] for m in ("sfe", "dfe", "dcl", "dsl")
                                                             for e in ("0", "1")]  # epoch 0: untrained
    assert (out / "training.png").is_file()

    config = json.loads((out / "config.json").read_text())
    assert (config["method"], config["config"], config["classifier_epochs"], config["enhancer_epochs"],
            config["batch_size"], config["lr"]) == ("all", "small", 1, 1, 64, 1e-3)
    assert config["data_fingerprint"] and config["clips_per_class"] == 1
    for m in METHODS:
        saved = torch.load(out / "models" / f"{m}.pt", weights_only=True)
        assert saved["method"] == m and saved["config"] == "small" and len(saved["class_names"]) == 10
        # the reading it was trained on, which classify.py and export.py use by themselves
        assert (saved["features"], saved["snr_reference"]) == (config["features"], config["snr_reference"]) == (
            audiodata.readings.DEFAULT_FEATURES, audiodata.readings.DEFAULT_SNR_REFERENCE)

    assert "config: small (default on a CPU" in proc.stdout
    assert "memory:" not in proc.stdout and "memory:" in (out / "train.log").read_text()  # shown with --verbose
    assert "Table 1" in proc.stdout and "Table 2" in proc.stdout
    done = next(line for line in proc.stdout.splitlines() if line.startswith("done in "))
    listed = done.split(": ", 1)[1].rsplit(f" in {out}", 1)[0].split(", ")
    assert listed == sorted(p.name for p in out.iterdir() if p.is_file()) + ["checkpoints/", "models/"]
    assert {"masks.csv", "training.png", "figure3.png", "config.json", "train.log"} <= set(listed)
    assert "dfe: finished earlier" not in proc.stdout  # DCL's stage 1 is the DFE stage, trained once
    assert (out / "train.log").read_text().count("dfe epoch   1/1  loss") == 1


def test_outputs_follow_the_umask(all_run):
    out, _ = all_run
    paths = list(out.rglob("*"))
    assert {"results.csv", "figure3.png", "masks.csv", "config.json", "train.log", "dsl.pt"} <= {p.name for p in paths}
    modes = {str(p.relative_to(out)): stat.S_IMODE(p.stat().st_mode) for p in paths}
    assert modes == {name: 0o750 if (out / name).is_dir() else 0o640 for name in modes}  # as open() and mkdir() give


def test_refuses_to_overwrite_another_run(all_run, train_cache):
    out, _ = all_run
    before = (out / "results.csv").read_text()
    proc = train(out, train_cache, "--method", "dsl", "--epochs", "1")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "already holds files" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert (out / "results.csv").read_text() == before


def test_reuses_the_cached_classifier(all_run, train_cache, tmp_path):
    out, _ = all_run
    proc = train(tmp_path / "run", train_cache, "--method", "cnn-fc", "--epochs", "1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "cnn-fc: reusing the classifier trained earlier" in proc.stdout
    first, second = (torch.load(d / "models" / "cnn-fc.pt", weights_only=True)["state_dict"]
                     for d in (out, tmp_path / "run"))
    assert all(torch.equal(first[k], second[k]) for k in first)
    rows = lambda d: [r for r in results.read_results_csv(d / "results.csv") if r["method"] == "cnn-fc"]  # noqa: E731
    assert rows(out) == rows(tmp_path / "run")


@pytest.mark.parametrize("args, message", [
    (["--method", "dsl", "--data-root", "/no/such/dir"], "--data-root: /no/such/dir is not a folder"),
    (["--method", "dsl", "--resume"], "no config.json"),
    (["--method", "dsl", "--epochs", "0"], "--epochs must be >= 1"),
    (["--method", "dsl", "--device", "cuda"], "no CUDA GPU"),
])
def test_user_mistakes_exit_2_with_one_line(args, message, tmp_path, train_cache):
    if torch.cuda.is_available() and "cuda" in args:
        pytest.skip("a GPU is available")
    proc = train(tmp_path / "empty", train_cache, *args)
    assert proc.returncode == 2
    assert message in proc.stderr and proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr
    assert not (tmp_path / "empty").exists()


def test_nan_loss_stops_with_the_last_good_checkpoint(tmp_path, train_cache):
    out = tmp_path / "run"
    proc = train(out, train_cache, "--method", "sfe", "--epochs", "2", "--batch-size", "32",
                 fault="nan_at_step=sfe:5")  # 3 steps per epoch: step 2 of epoch 2
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "sfe: the training loss became nan at epoch 2, step 2" in proc.stderr
    assert "Traceback" not in proc.stderr
    saved = torch.load(out / "checkpoints" / "sfe.pt", weights_only=True)
    assert saved["epoch"] == 0 and not saved["done"]
    assert all(torch.isfinite(v).all() for v in saved["model"].values() if v.is_floating_point())
    assert not (out / "results.csv").exists()


def test_classify_prints_class_and_probability_of_each_file(all_run, tmp_path):
    import soundfile

    import models

    out, _ = all_run
    t = np.arange(3 * 44100) / 44100
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), np.sign(np.sin(2 * np.pi * 3 * t))], 1) * 0.3
    soundfile.write(tmp_path / "tone.wav", stereo, 44100)  # any rate and channel count is converted
    soundfile.write(tmp_path / "noise.wav", np.random.default_rng(0).normal(0, 0.1, 16000 * 4), 16000)  # one clip
    files = [tmp_path / "tone.wav", tmp_path / "noise.wav"]

    proc = run("classify.py", "--checkpoint", out, *files)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith("# dsl (small config)")  # a --method all run: DSL by default

    saved = torch.load(out / "models" / "dsl.pt", weights_only=True)
    model = models.build("dsl", "small", 10, 40)
    model.load_state_dict(saved["state_dict"])
    model.eval()
    for f, line in zip(files, lines[1:]):
        x = torch.from_numpy(audiodata.features_from_file(f))[None, None]
        with torch.no_grad():
            p = torch.softmax(model(x), 1)[0]
        k = int(p.argmax())
        assert line == f"{f}: {audiodata.CLASS_NAMES[k]} (p = {float(p[k]):.3f})"

    proc = run("classify.py", "--checkpoint", out, "--method", "sfe", files[0])
    assert proc.returncode == 0 and proc.stdout.startswith("# sfe")
    proc = run("classify.py", "--checkpoint", out, tmp_path / "missing.wav")
    assert proc.returncode == 2 and "no such file" in proc.stderr and "Traceback" not in proc.stderr
