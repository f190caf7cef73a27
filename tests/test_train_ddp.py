"""Two CPU processes under torch.distributed.run (gloo): the replicas agree after a training step."""
import os
import subprocess
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent


def test_two_processes_agree_after_a_step(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parent), str(HERE)]), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(HERE / "helpers" / "train_ddp_worker.py"), str(tmp_path)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    init0, init1 = (torch.load(tmp_path / f"init{r}.pt") for r in (0, 1))
    final0, final1 = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    assert not torch.equal(init0["1.weight"], init1["1.weight"])  # the ranks started apart
    for k in final0:
        assert torch.equal(final0[k], final1[k]), k  # parameters and batch-norm statistics agree
    assert not torch.equal(final0["1.weight"], init0["1.weight"])  # and the step changed them
    assert torch.load(tmp_path / "stage.pt", weights_only=True)["done"]  # rank 0 wrote the checkpoint
