"""The readings as train.py options (recorded, resumed, refused when a model would see another reading), early
stopping of the enhancer stages, and the calibration rule's arithmetic (issue 21)."""
import json
import math

import pytest
import torch

from audiodata.readings import DEFAULT_FEATURES, DEFAULT_SNR_REFERENCE, MEL
from deployment.trained_model import check_reading
from training import calibration_rule, options, rundir
from training.engine import checkpoint
from training.engine.loop import stops_early, train_stage
from training.errors import UsageError

from helpers.train_tiny import tiny_context, tiny_data, tiny_model


def _parse(*argv):
    return options.parse(["--method", "dsl", *argv], cuda_available=False, world_size=1)


def test_reading_flags_are_recorded_and_resume_needs_the_same(tmp_path):
    assert (_parse().features, _parse().snr_reference) == (DEFAULT_FEATURES, DEFAULT_SNR_REFERENCE)
    opts = _parse("--features", "mel", "--snr-reference", "segment")
    assert (opts.features, opts.snr_reference) == (MEL, "segment")  # "mel" is recorded by its full name
    config = rundir.run_config(opts, world_size=1)
    assert (config["features"], config["snr_reference"], config["patience"]) == (MEL, "segment", 3)
    out = tmp_path / "run"
    rundir.start(out, config, "fp", "synthetic", resume=False)
    rundir.check(out, config, resume=True)
    with pytest.raises(UsageError, match=f"features = '{MEL}', this command 'logmel'"):
        rundir.check(out, rundir.run_config(_parse("--features", "logmel", "--snr-reference", "segment"), 1), True)
    with pytest.raises(UsageError, match="snr_reference = 'segment', this command 'clip'"):
        rundir.check(out, rundir.run_config(_parse("--features", "mel", "--snr-reference", "clip"), 1), True)
    # a run folder from before the readings existed ran log-Mel with the clip SNR and no early stopping
    old = {k: v for k, v in config.items() if k not in ("features", "snr_reference", "patience")}
    (out / "config.json").write_text(json.dumps(old))
    rundir.check(out, {**old, "features": "logmel", "snr_reference": "clip", "patience": None}, resume=True)


def test_patience_defaults_and_mistakes():
    assert (_parse().patience, _parse("--config", "paper").patience, _parse("--patience", "0").patience) == (3, None,
                                                                                                          None)
    assert options.patience_of(_parse("--patience", "5"), "cnn-fc") is None  # the classifier's epochs are fixed
    with pytest.raises(UsageError, match="--patience must be >= 0"):
        _parse("--patience", "-1")
    with pytest.raises(SystemExit):
        _parse("--features", "db")


def test_feeding_a_model_another_reading_is_an_error_that_says_so():
    assert check_reading("mel-power", None, "the model") == "mel-power"
    assert check_reading(MEL, "mel", "the model") == MEL  # "mel" names the calibrated one
    with pytest.raises(UsageError, match="trained on the logmel reading and must be fed logmel features"):
        check_reading("logmel", "mel-power", "the model in x.pt")
    with pytest.raises(UsageError, match="--features: features: expected one of"):
        check_reading("logmel", "spectrogram", "the model")


def test_stops_early_after_patience_epochs_without_a_better_dev_accuracy():
    history = [{"epoch": e} for e in range(5)]
    assert not stops_early(history[:4], best_epoch=1, patience=3)
    assert stops_early(history[:5], best_epoch=1, patience=3)
    assert not stops_early(history, best_epoch=1, patience=None)


def test_a_stage_whose_dev_accuracy_cannot_improve_stops_after_patience_epochs(tmp_path):
    torch.manual_seed(0)
    model = tiny_model()
    ctx = tiny_context()
    ctx.lr = 0.0  # the weights never change: the first epoch stays the best
    result = train_stage("tiny", model, list(model.parameters()), tiny_data(16, 1), tiny_data(8, 2), 10,
                         tmp_path / "a.pt", ctx, patience=2)
    state = checkpoint.load(tmp_path / "a.pt")
    assert result.epoch == 0 and state["done"] and [h["epoch"] for h in state["history"]] == [0, 1, 2]


def test_calibration_rule_distance_and_ranking():
    paper = calibration_rule.PAPER_CNN_FC_DROP
    rows = [{"noise": "clean", "snr_db": None, "accuracy": 0.80}]
    rows += [{"noise": n, "snr_db": s, "accuracy": 0.80 - (paper[s] + d) / 100} for s in paper
             for n, d in (("white", 1.0), ("hum", 3.0))]  # mean over the two noises: the paper's drop + 2
    drop = calibration_rule.drops(rows)
    assert drop == pytest.approx({float(s): paper[s] + 2.0 for s in paper})
    assert calibration_rule.distance(drop) == pytest.approx(2.0)
    off = {20.0: 0.3, 15.0: 0.5, 10.0: 2.0, 5.0: 4.7 + 3.0, 0.0: 10.0 + 4.0}  # RMS of (0, 0, 0, 3, 4) = sqrt(5)
    assert calibration_rule.distance(off) == pytest.approx(math.sqrt(5.0))
    summary = calibration_rule.summarize({"a": [drop, drop], "b": [off, off]})
    assert [e["reading"] for e in summary] == ["a", "b"] and summary[0]["drop_std"][0.0] == 0.0
