"""experiments/study.py: the plan, the commands for a scheduler, a study killed with kill -9 and continued, and DCL
taking its stage 1 from the DFE run with the result of a DCL run from scratch (tiny set, one or two epochs)."""
import os
import shlex
import signal
import subprocess
import sys
import time

import pytest
import torch

from training.study import plan as study_plan

from helpers.train_cli import ROOT, TINY, run, train

TRAIN_FLAGS = [*TINY, "--epochs", "2", "--batch-size", "32"]


def test_plan_orders_runs_by_dependency_and_reuses_dfe(tmp_path):
    runs = study_plan.make_plan(("sfe", "dfe", "dcl", "dsl"), (3, 4), tmp_path, ["--config", "small"], data_seed=3)
    assert [r.name for r in runs[:5]] == ["cnn-fc/seed3", "sfe/seed3", "dfe/seed3", "dcl/seed3", "dsl/seed3"]
    by = {r.name: r for r in runs}
    assert by["sfe/seed4"].after == ("cnn-fc/seed4",) and by["cnn-fc/seed4"].after == ()
    dcl = by["dcl/seed4"]
    assert dcl.after == ("dfe/seed4",)
    assert dcl.train_args[dcl.train_args.index("--dfe-from") + 1] == str(tmp_path / "dfe" / "seed4")
    assert all(r.train_args[r.train_args.index("--data-seed") + 1] == "3" for r in runs)
    assert dcl.folder == tmp_path / "dcl" / "seed4" and dcl.state() == "new"
    # longest chain first: cnn-fc (everything waits on it), then DSL, then DFE (DCL waits on it), SFE
    ready = sorted((r for r in runs if r.seed == 4 and r.method != "cnn-fc"),
                   key=lambda r: -study_plan.priority(r, runs))
    assert [r.method for r in ready][:2] == ["dsl", "dfe"]
    assert study_plan.priority(by["cnn-fc/seed4"], runs) > study_plan.priority(by["dsl/seed4"], runs)


def test_plan_without_dfe_trains_dcl_from_scratch(tmp_path):
    dcl = study_plan.make_plan(("dcl",), (0,), tmp_path)[1]
    assert dcl.after == ("cnn-fc/seed0",) and "--dfe-from" not in dcl.train_args


@pytest.mark.parametrize("text, seeds", [("0-3", (0, 1, 2, 3)), ("0,5,2", (0, 5, 2)), ("0-1,7,1", (0, 1, 7))])
def test_seed_ranges(text, seeds):
    assert study_plan.parse_seeds(text) == seeds


def test_print_commands_lists_every_run_in_waves(tmp_path):
    proc = run("study.py", "--methods", "dfe,dcl", "--seeds", "0-1", "--out", tmp_path / "s", "--print-commands",
               "--", *TINY)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [x for x in lines if x.startswith("#")] == ["# wave 1", "# wave 2 (after the waves above)",
                                                       "# wave 3 (after the waves above)"]
    commands = [x for x in lines if not x.startswith("#")]
    assert [c.split("--only ")[1].split()[0] for c in commands] == [
        "cnn-fc/seed0", "cnn-fc/seed1", "dfe/seed0", "dfe/seed1", "dcl/seed0", "dcl/seed1"]
    assert all(c.endswith("--clips-per-class 1 --workers 1 --config small --features mel-power --snr-reference clip")
               for c in commands)
    # a printed command runs nothing before its dependencies finished
    proc = subprocess.run([sys.executable, *shlex.split(commands[-1])[1:]], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2 and "dfe/seed1 must finish first" in proc.stderr


def test_usage_errors_are_one_line(tmp_path):
    for args, message in ((["--seeds", "a-b"], "--seeds"), (["--methods", "dsl,xyz"], "--methods"),
                          (["--", "--seed", "3"], "--seed is set by the study")):
        proc = run("study.py", "--out", tmp_path, *args)
        assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def _study(out, cache, **kwargs):
    args = ["--methods", "dfe,dcl", "--seeds", "0", "--jobs", "1", "--out", out, "--", *TRAIN_FLAGS,
            "--cache-dir", cache]
    return [sys.executable, str(ROOT / "experiments" / "study.py"), *map(str, args)]


def test_study_killed_with_kill_9_continues_and_dcl_equals_dcl_from_scratch(tmp_path, train_cache, monkeypatch):
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # the study's runs have one thread: so has the scratch run
        monkeypatch.setenv(variable, "1")
    out = tmp_path / "study"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DYCONV_FAULT", None)
    study = subprocess.Popen(_study(out, train_cache), cwd=ROOT, env=env, start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoint = out / "dfe" / "seed0" / "checkpoints" / "dfe.pt"
    deadline = time.monotonic() + 300
    while not checkpoint.exists() and study.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(study.pid, signal.SIGKILL)  # the study and its train.py run, mid-DFE (after its first epoch)
    study.wait()
    assert checkpoint.exists() and not (out / "dfe" / "seed0" / "checkpoints" / "done.json").exists()

    proc = subprocess.run(_study(out, train_cache), cwd=ROOT, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = (out / "study.log").read_text()
    assert "1 finished earlier, 1 to resume" in log and "started dfe/seed0 (resumed)" in log
    assert "started cnn-fc" not in log.split("1 to resume")[1]  # the finished CNN-FC run is not run again
    assert "taken from" in (out / "logs" / "dcl-seed0.log").read_text()
    for name in ("seeds.md", "verdict.md", "robustness.png"):
        assert (out / "summary" / name).is_file(), name

    scratch = tmp_path / "dcl-scratch"
    proc = train(scratch, train_cache, "--method", "dcl", "--seed", "0", "--data-seed", "0", *TRAIN_FLAGS[2:])
    assert proc.returncode == 0, proc.stderr[-3000:]
    a, b = (torch.load(d / "models" / "dcl.pt", weights_only=True)["state_dict"] for d in (out / "dcl" / "seed0",
                                                                                            scratch))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert (out / "dcl" / "seed0" / "results.csv").read_text() == (scratch / "results.csv").read_text()


def test_dfe_from_refuses_a_run_with_other_settings(tmp_path, train_cache):
    source = tmp_path / "dfe"
    proc = train(source, train_cache, "--method", "dfe", "--epochs", "1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = train(tmp_path / "dcl", train_cache, "--method", "dcl", "--epochs", "2", "--dfe-from", source)
    assert proc.returncode == 2 and "classifier_epochs = 1, this command 2" in proc.stderr, proc.stderr[-2000:]
    proc = train(tmp_path / "sfe", train_cache, "--method", "sfe", "--epochs", "1", "--dfe-from", source)
    assert proc.returncode == 2 and "--dfe-from applies to --method dcl" in proc.stderr
