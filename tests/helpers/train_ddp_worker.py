"""Run by test_train_ddp.py under ``torch.distributed.run``: one training step with DDP, then each rank saves
its weights to ``<out>/rank<r>.pt`` for the test to compare."""
import os
import sys
from pathlib import Path

import torch

from training.engine import distributed
from training.engine.loop import train_stage

from helpers.train_tiny import tiny_context, tiny_data, tiny_model

out = Path(sys.argv[1])
d = distributed.from_environment("cpu")
torch.manual_seed(100 + d.rank)  # different initial weights per rank: DDP must make them agree
model = tiny_model()
torch.save(model.state_dict(), out / f"init{d.rank}.pt")
ctx = tiny_context(batch_size=8, dist=d)
train_stage("tiny", model, list(model.parameters()), tiny_data(8, seed=1), tiny_data(6, seed=2), 1,
            out / "stage.pt", ctx)  # 8 clips, 4 per process: one optimizer step
torch.save(model.state_dict(), out / f"rank{d.rank}.pt")
d.close()
# Leave without the interpreter's teardown, which this worker does not need (all the test reads is on
# disk): in one full CI run a rank aborted with "terminate called without an active exception", most
# likely in that teardown (not reproduced in 65 runs alone).
sys.stdout.flush()
sys.stderr.flush()
os._exit(0)
