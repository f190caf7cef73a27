"""experiments/train.py --resume after the process was killed mid-epoch reaches the uninterrupted result."""
import shutil

import numpy as np
import torch

from training.engine.faults import KILLED_EXIT_CODE

from helpers.train_cli import train

ARGS = ["--method", "sfe", "--epochs", "2", "--batch-size", "32"]  # 80 clips: 3 steps per epoch; SFE is quick


def as_earlier_versions_wrote_it(path):
    """Rewrite the checkpoint at ``path`` as train.py wrote it before plain data: NumPy's random state as the
    tuple np.random.get_state() returns (str, uint32 array, int, int, float)."""
    state = torch.load(path, weights_only=True)
    numpy_state = state["rng"]["numpy"]
    state["rng"]["numpy"] = (numpy_state["algorithm"], np.array(numpy_state["key"], dtype=np.uint32),
                             numpy_state["pos"], numpy_state["has_gauss"], numpy_state["gauss"])
    torch.save(state, path)


def test_resume_after_kill_matches_an_uninterrupted_run(tmp_path, train_cache):
    killed = tmp_path / "killed"
    proc = train(killed, train_cache, *ARGS, fault="exit_after_steps=sfe:5")  # mid-epoch 2 of SFE
    assert proc.returncode == KILLED_EXIT_CODE, proc.stderr[-3000:]
    assert torch.load(killed / "checkpoints" / "sfe.pt", weights_only=True)["epoch"] == 0  # plain data
    assert not (killed / "models" / "sfe.pt").exists()
    earlier = tmp_path / "killed-earlier-format"  # the same interrupted run, checkpointed by an earlier version
    shutil.copytree(killed, earlier)
    as_earlier_versions_wrote_it(earlier / "checkpoints" / "sfe.pt")

    for out in (killed, earlier):
        proc = train(out, train_cache, *ARGS, "--resume")
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "sfe: resuming after epoch 1 of 2" in proc.stdout

    reference = tmp_path / "reference"
    proc = train(reference, train_cache, *ARGS)
    assert proc.returncode == 0, proc.stderr[-3000:]

    for out in (killed, earlier):
        a, b = (torch.load(d / "models" / "sfe.pt", weights_only=True)["state_dict"] for d in (out, reference))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
        for name in ("results.csv", "table1.md", "table2.md"):
            assert (out / name).read_text() == (reference / name).read_text(), name


def test_resume_with_other_settings_is_refused(tmp_path, train_cache):
    out = tmp_path / "run"
    proc = train(out, train_cache, *ARGS, fault="exit_after_steps=1")  # killed at its first training step
    assert proc.returncode == KILLED_EXIT_CODE, proc.stderr[-3000:]
    proc = train(out, train_cache, "--method", "sfe", "--epochs", "3", "--batch-size", "32", "--resume")
    assert proc.returncode == 2 and "classifier_epochs = 2, this command 3" in proc.stderr
