"""Flag checks of experiments/train.py (training.options) and the output-folder rules (training.rundir)."""
import json

import pytest

from training import options, rundir
from training.errors import UsageError


def _parse(*argv, cuda=False, world=1):
    return options.parse(["--method", "dsl", *argv], cuda_available=cuda, world_size=world)


def test_defaults_follow_the_device():
    cpu = _parse()
    assert (cpu.device, cpu.config, cpu.classifier_epochs, cpu.enhancer_epochs) == (
        "cpu", "small", options.SMALL_CLASSIFIER_EPOCHS, options.SMALL_ENHANCER_EPOCHS)
    assert "default on a CPU" in cpu.config_reason
    gpu = _parse(cuda=True)
    assert (gpu.device, gpu.config, gpu.classifier_epochs, gpu.enhancer_epochs, gpu.batch_size, gpu.lr) == (
        "cuda", "paper", 100, 100, 64, 1e-3)
    assert _parse("--config", "paper").enhancer_epochs == 100
    assert (_parse("--epochs", "7").classifier_epochs, _parse("--epochs", "7").enhancer_epochs) == (7, 7)
    assert _parse("--method", "all").methods == ("sfe", "dfe", "dcl", "dsl")
    assert options.parse(["--method", "cnn-fc"], cuda_available=False, world_size=1).methods == ()
    assert (cpu.amp, _parse("--amp").amp) == (False, True)


@pytest.mark.parametrize("argv, message", [
    (["--device", "cuda"], "no CUDA GPU"),
    (["--epochs", "0"], "--epochs must be >= 1"),
    (["--batch-size", "-3"], "--batch-size must be >= 1"),
    (["--lr", "nan"], "--lr must be a positive number"),
    (["--lr", "0"], "--lr must be a positive number"),
    (["--seed", "-1"], "--seed must be >= 0"),
    (["--data-root", "/no/such/folder"], "--data-root: /no/such/folder is not a folder"),
    (["--data-root", "/tmp", "--clips-per-class", "2"], "synthetic set only"),
    (["--resume"], "--resume needs --out"),
])
def test_user_mistakes_are_usage_errors(argv, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        _parse(*argv)


def test_batch_must_divide_over_processes():
    with pytest.raises(UsageError, match="divide by the number of processes"):
        _parse("--batch-size", "63", world=2)


def test_bad_choice_exits_2_with_one_line(capsys):
    with pytest.raises(SystemExit) as e:
        options.parse(["--method", "nope"])
    assert e.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_out_folder_rules(tmp_path):
    config = rundir.run_config(_parse(), world_size=1)
    out = tmp_path / "run"
    rundir.check(out, config, resume=False)  # absent: fine
    out.mkdir()
    rundir.check(out, config, resume=False)  # empty: fine
    with pytest.raises(UsageError, match="no config.json"):
        rundir.check(out, config, resume=True)
    rundir.start(out, config, "fp1", "synthetic", resume=False)
    assert json.loads((out / "config.json").read_text())["data_fingerprint"] == "fp1"
    with pytest.raises(UsageError, match="already holds files"):
        rundir.check(out, config, resume=False)
    rundir.check(out, config, resume=True)
    other = options.SMALL_ENHANCER_EPOCHS + 1
    with pytest.raises(UsageError, match=f"enhancer_epochs = {options.SMALL_ENHANCER_EPOCHS}, this command {other}"):
        rundir.check(out, {**config, "enhancer_epochs": other}, resume=True)
    with pytest.raises(UsageError, match="amp = None, this command True"):  # a run without --amp
        rundir.check(out, rundir.run_config(_parse("--amp"), world_size=1), resume=True)
    with pytest.raises(UsageError, match="data changed"):
        rundir.start(out, config, "fp2", "synthetic", resume=True)


def test_protocol_seeds_and_noises():
    default = _parse()
    assert (default.protocol, default.seeds, default.seed, default.noises, default.figure_noise) == (
        "paper", (0,), 0, None, None)
    assert _parse("--seed", "4").seeds == (4,)
    several = _parse("--seeds", "3,1,2", "--protocol", "cv10")
    assert (several.seeds, several.seed, several.protocol) == ((3, 1, 2), 3, "cv10")
    assert _parse("--noises", "Crowd, water").noises == ("crowd", "water")
    assert _parse("--noises", "paper").noises == "paper"
    assert _parse("--figure-noise", "Water").figure_noise == "water"
    config = rundir.run_config(several, world_size=1)
    assert (config["protocol"], config["seeds"], config["seed"]) == ("cv10", [3, 1, 2], 3)
    assert {"protocol", "seeds", "noises"} <= set(rundir.RESUME_KEYS)


@pytest.mark.parametrize("argv, message", [
    (["--seeds", "0,x"], "--seeds: expected seeds separated by commas"),
    (["--seeds", "1,1"], "--seeds: expected distinct seeds >= 0"),
    (["--seeds", "0,-2"], "--seeds: expected distinct seeds >= 0"),
    (["--seeds", "0,1", "--seed", "3"], "--seed and --seeds: give one of them"),
    (["--noises", "crowd,,water"], "--noises: expected distinct names"),
    (["--noises", "crowd,Crowd"], "--noises: expected distinct names"),
])
def test_bad_protocol_flags_are_usage_errors(argv, message):
    with pytest.raises(UsageError, match=message):
        _parse(*argv)
