"""--train-noise (multi-condition training): flag checks, the classifier cache key, a tiny end-to-end run."""
import csv
import json

import pytest

from training import multi_condition, options
from training.errors import UsageError

from helpers.train_cli import train


def _parse(*argv):
    return options.parse(["--method", "dsl", *argv], cuda_available=False, world_size=1)


def test_off_by_default_and_parsed_when_given():
    assert (_parse().train_noise, _parse().train_noise_classifier) == ((), False)
    opts = _parse("--train-noise", "white, hum", "--train-snr=-5,10", "--train-noise-classifier")
    assert (opts.train_noise, opts.train_snr, opts.train_noise_classifier) == (("white", "hum"), (-5.0, 10.0), True)
    assert len(_parse("--train-noise", "all").train_noise) == 6


@pytest.mark.parametrize("argv, message", [
    (["--train-noise", "white,babble"], "'babble' is one of the test noises"),
    (["--train-noise", "pink"], "'pink' is one of the test noises"),
    (["--train-noise", "grey"], "expected names from white"),
    (["--train-noise", "white", "--train-snr", "10"], "--train-snr: expected LOW,HIGH"),
    (["--train-noise", "white", "--train-snr", "20,0"], "LOW <= HIGH"),
    (["--train-noise-classifier"], "need --train-noise"),
])
def test_user_mistakes_are_usage_errors(argv, message):
    with pytest.raises(UsageError, match=message):
        _parse(*argv)


def test_a_noise_dir_name_counts_as_a_test_noise(tmp_path):
    (tmp_path / "white.wav").write_bytes(b"")
    with pytest.raises(UsageError, match="'white' is one of the test noises"):
        _parse("--noise-dir", str(tmp_path), "--train-noise", "white")


def test_classifier_cache_key_changes_only_when_the_classifier_trains_on_noise():
    fp = "0123456789abcdef"
    assert multi_condition.classifier_key(_parse(), fp) == fp
    assert multi_condition.classifier_key(_parse("--train-noise", "white"), fp) == fp  # clean classifier reused
    noisy = multi_condition.classifier_key(_parse("--train-noise", "white", "--train-noise-classifier"), fp)
    other = multi_condition.classifier_key(_parse("--train-noise", "hum", "--train-noise-classifier"), fp)
    assert len({fp, noisy, other}) == 3


def test_test_noise_name_exits_2_with_one_line(tmp_path, train_cache):
    proc = train(tmp_path / "run", train_cache, "--method", "sfe", "--train-noise", "babble")
    assert proc.returncode == 2
    assert "'babble' is one of the test noises" in proc.stderr and proc.stderr.strip().count("\n") == 0


def test_tiny_multi_condition_run_trains_on_clean_plus_noisy_copies(tmp_path, train_cache):
    out = tmp_path / "run"
    proc = train(out, train_cache, "--method", "sfe", "--epochs", "1", "--batch-size", "40", "--train-noise",
                 "white,clicks")
    assert proc.returncode == 0, proc.stderr[-3000:]
    config = json.loads((out / "config.json").read_text())
    assert (config["train_noise"], config["train_snr"], config["train_noise_classifier"]) == (
        ["white", "clicks"], [0.0, 20.0], False)
    log = (out / "train.log").read_text()
    assert "multi-condition training: enhancers (classifier: clean only)" in log
    assert "sfe epoch   1/1" in log and "mask mean" in log
    rows = list(csv.DictReader((out / "masks.csv").open()))
    assert [(r["stage"], r["epoch"]) for r in rows] == [("sfe", "0"), ("sfe", "1")]  # epoch 0: untrained
    assert (out / "training.png").is_file() and (out / "results.csv").is_file()


def test_mixed_conditions_swap_in_the_noisy_copy_of_the_chosen_clips():
    import torch
    from torch.utils.data import TensorDataset

    clean = TensorDataset(torch.zeros(6, 1), torch.arange(6))
    noisy = TensorDataset(torch.ones(6, 1), torch.arange(6))
    mixed = multi_condition.MixedConditions(clean, noisy, torch.tensor([1, 0, 0, 1, 1, 0], dtype=torch.bool))
    assert len(mixed) == 6
    assert [float(mixed[i][0]) for i in range(6)] == [1, 0, 0, 1, 1, 0]
    assert [int(mixed[i][1]) for i in range(6)] == list(range(6))  # the label stays the clip's
    with pytest.raises(ValueError, match="one entry per clip"):
        multi_condition.MixedConditions(clean, noisy, torch.ones(5, dtype=torch.bool))
