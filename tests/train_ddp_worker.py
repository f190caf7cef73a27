"""Run by test_train_ddp.py under ``torch.distributed.run``: one training step with DDP, then each rank saves
its weights to ``<out>/rank<r>.pt`` for the test to compare, and ``<out>/closed<r>`` once its process group is
closed (all that is left is the interpreter's exit)."""
import sys
from pathlib import Path

import torch

from training import distributed
from training.loop import train_stage

from train_tiny import tiny_context, tiny_data, tiny_model

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
(out / f"closed{d.rank}").touch()
