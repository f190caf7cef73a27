"""experiments/train.py with real-data options: any noise folder, --seeds (mean ± std, summary.md),
robustness.png, mixtures.csv, and --protocol cv10 on a tiny UrbanSound8K-format tree with a kill mid-fold."""
import csv
import json
import statistics

import matplotlib.image
import numpy as np
import pytest
import soundfile
import torch
from scipy import stats

import audiodata
from training.engine.faults import KILLED_EXIT_CODE
from training.reports import results

from helpers.train_cli import run, table, train

# arbitrary names as real recordings have them; the file stem lower-cased is the noise's name
NOISE_FILES = ("crowd.wav", "Fire.WAV", "industry.flac", "train.wav", "water.wav", "wind.wav")
NOISES = ("crowd", "fire", "industry", "train", "water", "wind")
SNRS = (20, 15, 10, 5, 0)
SR = 16000


def write_noises(folder, files=NOISE_FILES):
    folder.mkdir()
    rng = np.random.default_rng(5)
    for i, name in enumerate(files):
        t = np.arange(3 * SR) / SR
        x = 0.1 * rng.normal(size=t.size) + 0.2 * np.sin(2 * np.pi * (100 + 150 * i) * t)
        soundfile.write(folder / name, x.astype(np.float32), SR)
    (folder / "README.txt").write_text("not audio: ignored")
    return folder


def _stat_cell(values):
    values = list(values)
    return f"{statistics.fmean(values):.2f} ± {statistics.stdev(values):.2f}"


@pytest.fixture(scope="module")
def seeds_run(tmp_path_factory, train_cache):
    tmp = tmp_path_factory.mktemp("seeds")
    noises = write_noises(tmp / "noises")
    out = tmp / "run"
    proc = train(out, train_cache, "--method", "dfe", "--epochs", "1", "--seeds", "0,1", "--noise-dir", noises)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc


def _used(out):
    """The noises of the run in their order (the folder's, as audiodata lists them)."""
    names = tuple(audiodata.NoiseBank(json.loads((out / "config.json").read_text())["noise_dir"]).names)
    assert sorted(names) == sorted(NOISES)
    return names


def test_a_noise_folder_of_any_names_runs_per_seed(seeds_run):
    out, proc = seeds_run
    rows = results.read_results_csv(out / "results.csv")
    noises = _used(out)
    assert {r["noise"] for r in rows} == {"clean", *NOISES}
    for seed in (0, 1):
        for m in ("cnn-fc", "dfe"):
            mine = [r for r in rows if (r["seed"], r["method"]) == (seed, m)]
            assert [(r["split"], r["noise"]) for r in mine[:2]] == [("dev", "clean"), ("test", "clean")]
            assert [(r["noise"], r["snr_db"]) for r in mine[2:]] == [(n, float(s)) for s in SNRS for n in noises]
            assert all(r["fold"] == 10 and r["n"] == 10 for r in mine)
    # the seeds differ in weights and noise offsets, not in the clips: the synthetic set keeps the first seed's
    for seed in (0, 1):
        data = json.loads((out / "checkpoints" / f"fold10-seed{seed}" / "data.json").read_text())["data"]
        assert "built-in synthetic set (seed 0," in data
    config = json.loads((out / "config.json").read_text())
    assert config["seeds"] == [0, 1] and config["protocol"] == "paper"

    header, body = table(out / "table2.md")  # the noises used, no paper column for noises the paper has not
    assert header == ["SNR (dB)", "Method", *noises]
    for row in body:
        m = {"CNN-FC": "cnn-fc", "DFE": "dfe"}[row[1]]
        for noise, cell in zip(noises, row[2:]):
            assert cell == _stat_cell(100 * r["accuracy"] for r in rows if (r["method"], r["noise"]) == (m, noise)
                                      and r["snr_db"] == float(row[0]))
    header, body = table(out / "table1.md")
    assert "mean ± std over 2 seeds" in (out / "table1.md").read_text()
    for j, m in enumerate(("cnn-fc", "dfe")):
        dev = {r["seed"]: 100 * r["accuracy"] for r in rows if (r["method"], r["split"]) == (m, "dev")}
        test = {r["seed"]: 100 * r["accuracy"] for r in rows
                if (r["method"], r["split"], r["noise"]) == (m, "test", "clean")}
        assert [body[i][1 + j] for i in range(3)] == [_stat_cell(dev.values()), _stat_cell(test.values()),
                                                      _stat_cell(abs(dev[s] - test[s]) for s in (0, 1))]


def test_summary_gives_paired_differences_with_t_intervals(seeds_run):
    out, _ = seeds_run
    rows = results.read_results_csv(out / "results.csv")
    header, body = table(out / "summary.md")
    assert header == ["difference", "pairs", "clean test", "20 dB", "15 dB", "10 dB", "5 dB", "0 dB"]
    assert [r[:2] for r in body] == [["DFE − CNN-FC", "2"]]

    def rate(m, seed, noise, snr=None):
        return next(100 * r["accuracy"] for r in rows if (r["method"], r["seed"], r["split"], r["noise"]) ==
                    (m, seed, "test", noise) and r["snr_db"] == snr)

    conditions = [[("clean", None)]] + [[(n, float(s)) for n in NOISES] for s in SNRS]
    for cell, condition in zip(body[0][2:], conditions, strict=True):
        a, b = ([np.mean([rate(m, seed, n, s) for n, s in condition]) for seed in (0, 1)] for m in ("dfe", "cnn-fc"))
        d = np.subtract(a, b)
        if np.ptp(d) == 0:  # every seed gave the same difference: a zero-width interval
            low = high = d[0]
        else:
            low, high = stats.ttest_rel(a, b).confidence_interval(0.95)
        assert cell == f"{d.mean():+.2f} [{low:+.2f}, {high:+.2f}]"


def test_robustness_figure_and_mixing_manifest(seeds_run):
    out, _ = seeds_run
    image = matplotlib.image.imread(out / "robustness.png")
    assert image.ndim == 3 and image.shape[1] > 2 * image.shape[0] and image.std() > 0.05  # main + 6 panels
    with open(out / "mixtures.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(audiodata.MIXTURE_FIELDS)
    assert len(rows) == 2 * len(NOISES) * len(SNRS) * 10  # seeds x noises x SNRs x test clips
    assert {(r["seed"], r["noise"], float(r["snr_db"])) for r in rows} == {
        (str(seed), n, float(s)) for seed in (0, 1) for n in NOISES for s in SNRS}
    assert {r["noise_file"] for r in rows} == set(NOISE_FILES)
    assert all(abs(float(r["measured_snr_db"]) - float(r["snr_db"])) < 0.05 for r in rows)
    offsets = {seed: [r["noise_offset"] for r in rows if r["seed"] == seed] for seed in ("0", "1")}
    assert offsets["0"] != offsets["1"]  # the seed moves the noise segments
    assert "crowd" in (out / "train.log").read_text() and (out / "figure3.png").is_file()


@pytest.mark.parametrize("args, message", [
    (["--noises", "crowd,babble"], "--noises: noise: expected one of "),
    (["--figure-noise", "pink"], "--figure-noise: expected one of the noises evaluated ("),
])
def test_unknown_noise_names_are_usage_errors(args, message, tmp_path, train_cache):
    noises = write_noises(tmp_path / "noises")
    proc = train(tmp_path / "run", train_cache, "--method", "cnn-fc", "--epochs", "1", "--noise-dir", noises, *args)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert message in proc.stderr and proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr
    assert all(n in proc.stderr for n in NOISES)  # what exists


# --- --protocol cv10 ------------------------------------------------------------------------------------------

CV10 = ["--method", "cnn-fc", "--protocol", "cv10", "--epochs", "2", "--batch-size", "80"]  # 1 step per epoch


def train_tree(out, cache, *args, **kwargs):
    """train.py on a --data-root tree (train_cli.train adds the synthetic set's --clips-per-class)."""
    return run("train.py", "--out", out, "--cache-dir", cache, "--workers", "1", *args, **kwargs)


def write_tree(parent):
    """UrbanSound8K layout: 10 folds x 10 classes x 1 clip of 0.5 s (80 train, 10 dev, 10 test clips per fold)."""
    root = parent / "UrbanSound8K"
    (root / "metadata").mkdir(parents=True)
    rows = [["slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class"]]
    t = np.arange(SR // 2) / SR
    for fold in range(1, 11):
        (root / "audio" / f"fold{fold}").mkdir(parents=True)
        for label, name in enumerate(audiodata.CLASS_NAMES):
            x = 0.3 * np.sin(2 * np.pi * (200 + 300 * label + 7 * fold) * t)
            soundfile.write(root / "audio" / f"fold{fold}" / f"{fold}-{label}.wav", x.astype(np.float32), SR)
            rows.append([f"{fold}-{label}.wav", fold * 100 + label, 0.0, 0.5, 1, fold, label, name])
    with open(root / "metadata" / "UrbanSound8K.csv", "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return root


@pytest.fixture(scope="module")
def cv10_data(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cv10")
    return write_tree(tmp), write_noises(tmp / "noises", ("crowd.wav", "water.wav"))


@pytest.fixture(scope="module")
def cv10_run(tmp_path_factory, cv10_data):
    tree, noises = cv10_data
    tmp = tmp_path_factory.mktemp("cv10-run")
    proc = train_tree(tmp / "run", tmp / "cache", *CV10, "--data-root", tree, "--noise-dir", noises)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return tmp / "run", tmp / "cache"


def test_cv10_runs_ten_folds_with_mean_and_std(cv10_run):
    out, cache = cv10_run
    rows = results.read_results_csv(out / "results.csv")
    assert sorted({r["fold"] for r in rows}) == list(range(1, 11))
    test = [100 * r["accuracy"] for r in rows if (r["split"], r["noise"]) == ("test", "clean")]
    dev = [100 * r["accuracy"] for r in rows if r["split"] == "dev"]
    assert len(test) == len(dev) == 10 and all(r["n"] == 10 for r in rows)
    text = (out / "table1.md").read_text()
    assert "10-fold cross-validation" in text and "mean ± std over 10 folds" in text
    header, body = table(out / "table1.md")
    assert body[0][1] == _stat_cell(dev) and body[1][1] == _stat_cell(test)
    for k in range(1, 11):  # each fold's test set is that fold, its dev set the fold before
        data = json.loads((out / "checkpoints" / f"fold{k:02d}-seed0" / "data.json").read_text())["data"]
        assert f"/ {10 if k == 1 else k - 1} / {k})" in data
    assert not list(cache.rglob("*.npy"))  # every fold's noisy sets released after its evaluation
    manifest = list(csv.DictReader(open(out / "mixtures.csv", newline="")))
    assert len(manifest) == 10 * 2 * 5 * 10 and {r["test_fold"] for r in manifest} == {str(k) for k in range(1, 11)}
    assert (out / "summary.md").is_file() and (out / "robustness.png").is_file()


def test_cv10_resumes_in_the_fold_it_was_killed_in(tmp_path, cv10_data, cv10_run):
    tree, noises = cv10_data
    out = tmp_path / "run"
    args = [*CV10, "--data-root", tree, "--noise-dir", noises]
    proc = train_tree(out, tmp_path / "cache", *args, fault="exit_after_steps=14")  # fold 7, epoch 2
    assert proc.returncode == KILLED_EXIT_CODE, proc.stderr[-3000:]
    done = {k: (out / "checkpoints" / f"fold{k:02d}-seed0" / "cnn-fc.results.json").read_bytes() for k in range(1, 7)}
    assert not (out / "checkpoints" / "fold07-seed0" / "cnn-fc.results.json").exists()

    proc = train_tree(out, tmp_path / "cache", *args, "--resume")
    assert proc.returncode == 0, proc.stderr[-3000:]
    for k in range(1, 7):
        assert f"fold{k:02d}-seed0: done earlier" in proc.stdout
        assert (out / "checkpoints" / f"fold{k:02d}-seed0" / "cnn-fc.results.json").read_bytes() == done[k]
    assert "cnn-fc: resuming after epoch 1 of 2" in proc.stdout and proc.stdout.count("resuming after") == 1

    reference, _ = cv10_run  # the same run, never interrupted
    for name in ("results.csv", "table1.md", "table2.md", "summary.md", "mixtures.csv"):
        assert (out / name).read_text() == (reference / name).read_text(), name
    a, b = (torch.load(d / "checkpoints" / "fold07-seed0" / "cnn-fc.pt", weights_only=True)["model"]
            for d in (out, reference))
    assert all(torch.equal(a[k], b[k]) for k in a)
